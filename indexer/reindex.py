"""Re-embed every keyframe with another visual model and rebuild its index
(``assetdb index rebuild --model ...``).

Crash-safe: the new vectors are written asset by asset next to the old ones, and
only at the end, in one transaction, the old space is deleted and the database's
recorded model switched; an interrupted rebuild leaves the old model in charge
and the next run replaces the partial new vectors.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from sqlalchemy import delete, select

from assetdb import layout
from assetdb.records import VectorRow, replace_vectors
from assetdb.schema import Keyframe, Segment, StageRun, Vector
from assetdb.spaces import embedder_for, is_visual, parse_model, record_model, recorded_model
from indexer import writer
from indexer.extractors import version_of

log = logging.getLogger(__name__)

BATCH_KEYFRAMES = 32


@dataclass
class RebuildReport:
    space: str
    previous_space: str | None
    assets: int
    keyframes: int
    seconds: float
    index_kind: str | None


def rebuild_visual(
    store,
    model: str | None = None,
    *,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Embed all keyframes with ``model`` (default: the recorded one) and rebuild the index."""
    t0 = time.perf_counter()
    with store.session() as s:
        current = recorded_model(s)
        spec = parse_model(model or (current or {}).get("spec") or "concepts")
        rows = s.execute(
            select(Segment.asset_id, Segment.index, Keyframe.ts, Keyframe.path,
                   Segment.time_base_num, Segment.time_base_den)
            .join(Segment, Segment.id == Keyframe.segment_id)
            .order_by(Segment.asset_id, Segment.index, Keyframe.ts)
        ).all()
    by_asset: dict[int, list[tuple[int, float, Path]]] = defaultdict(list)
    data_dir = Path(store.settings.data_dir)
    for aid, idx, ts, path, num, den in rows:
        by_asset[aid].append((idx, float(ts * Fraction(num, den)), data_dir / path))
    total = sum(len(v) for v in by_asset.values())
    emb = embedder_for(spec, device=device, settings=store.settings)
    space = spec.space
    version = version_of(spec.extractor)
    done = 0
    for aid, kfs in by_asset.items():
        vecs = []
        for i in range(0, len(kfs), BATCH_KEYFRAMES):
            part = kfs[i : i + BATCH_KEYFRAMES]
            vecs.extend(emb.embed_images([p for _, _, p in part]))
            done += len(part)
            if progress is not None:
                progress(done, total)
        with writer.transaction(store) as s:
            replace_vectors(
                s, aid, space,
                [VectorRow(vector=v, segment_index=idx, t_s=t)
                 for (idx, t, _), v in zip(kfs, vecs, strict=True)],
            )  # fmt: skip
            writer.set_stage_run(s, aid, spec.extractor, version)
    previous = (current or {}).get("space")
    with writer.transaction(store) as s:
        old_spaces = [
            sp for sp in s.execute(select(Vector.space).distinct()).scalars()
            if is_visual(sp) and sp != space
        ]
        for sp in old_spaces:
            s.execute(delete(Vector).where(Vector.space == sp))
        other = {"concepts", "clip"} - {spec.extractor}
        s.execute(delete(StageRun).where(StageRun.stage.in_(other)))
        record_model(s, space, spec.spec)
    kind = None
    if total:
        from assetdb.index import rebuild_index

        kind = rebuild_index(store, space, device=device).kind
        for sp in old_spaces:
            index_file = layout.faiss_index(store.settings.data_dir, sp)
            for p in (index_file, layout.faiss_sidecar(index_file)):
                p.unlink(missing_ok=True)
    log.info("re-embedded %d keyframes of %d assets into %s", total, len(by_asset), space)
    return RebuildReport(space, previous, len(by_asset), total, time.perf_counter() - t0, kind)
