"""The browser proxy stage: an H.264/AAC MP4 (``assetdb.media.proxy``) for each video a
browser cannot play, written under the data dir (``assetdb.layout.proxy_file``). A video
that plays as is gets a ``done`` stage row and no proxy; the server then serves the
original.
"""

from __future__ import annotations

from pathlib import Path

from assetdb import layout
from assetdb.media.proxy import (
    KEYFRAME_EVERY_S,
    PROXY_HEIGHT_PX,
    ProxyResult,
    browser_playable,
    make_proxy,
    probe_codecs,
)
from indexer.extractors.base import Extractor
from indexer.work import AssetWork


class ProxyExtractor(Extractor):
    name = "proxy"
    version = f"1.h{PROXY_HEIGHT_PX}.g{KEYFRAME_EVERY_S:g}"
    kinds = frozenset({"video"})

    def run(self, batch: list[AssetWork]) -> list[ProxyResult]:
        out = []
        for work in batch:
            container, vcodec, acodec = probe_codecs(work.path)
            if browser_playable(work.path, container, vcodec, acodec):
                out.append(ProxyResult(needed=False))
                continue
            rel = layout.proxy_file(work.asset_id)
            res = make_proxy(work.path, Path(work.data_dir) / rel, rotation=work.rotation)
            res.path = rel
            out.append(res)
        return out
