"""The learned interestingness model (the MediaEval "Predicting Media Interestingness"
line of work from Technicolor): per-step visual features and per-window 180-d audio
MFCC features (60 MFCC + delta + delta-delta), each projected to 8 dims (the audio
through dropout 0.5), fused by a small LSTM (16 units) whose per-step outputs are averaged
over time (temporal averaging) and mapped to a probability of "interesting". Trained
full-batch with Adam (lr 0.01, weight decay 1e-3, 300 epochs, seed 0).

One step = one second of the clip.

- visual: the stored visual embeddings (``vectors`` space "concepts:..." or "clip:...")
  of the keyframe nearest to each second, when every training asset has them; else the
  per-second signals of the "interest" extractor (motion, change, novelty, sharpness,
  brightness, contrast, blank).
- audio: the sound extractor's "audio:mfcc180@1" vector of the shot (nearest by time)
  when every training asset has one, else MFCC computed here with librosa on the
  PyAV-decoded track (mean over each second of 60 MFCC, delta and delta-delta); one kind
  per model (stored in the model file), zeros where an asset has no audio.

``train`` reads a CSV of ``asset`` (path or id), ``start``, ``end`` and ``label``
(0/1) or ``score`` (0..1), holds out a deterministic split, reports mean average
precision (mean over assets of the AP of their held-out windows, and the pooled AP)
against the random baseline (the positive rate), and saves a versioned model file under
``settings.model_dir``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb.errors import AssetdbError, ModelUnavailable, NotFound
from assetdb.highlights.interest import AUDIO_SPACE, _visual_spaces, load_asset, media_path
from assetdb.schema import Asset, Vector
from assetdb.schema.interest import InterestCurve

log = logging.getLogger(__name__)

MODEL_NAME = "interest-lstm"
MODEL_VERSION = 2
SIGNAL_FEATURES = ("motion", "change", "novelty", "sharpness", "brightness", "contrast", "blank")
N_MFCC = 60
MFCC_DIM = 3 * N_MFCC
MFCC_SR = 22050
HIDDEN = 16
PROJ = 8
AUDIO_DROPOUT = 0.5
EPOCHS = 300
LR = 0.01
WEIGHT_DECAY = 1e-3
TEST_FRACTION = 0.3
SEED = 0


@dataclass
class Window:
    asset_id: int
    start_s: float
    end_s: float
    target: float  # 0..1


@dataclass
class TrainReport:
    model_path: Path
    n_train: int
    n_test: int
    visual_kind: str
    map_test: float
    ap_pooled_test: float
    random_baseline: float
    train_loss: float
    per_asset_ap: dict[int, float] = field(default_factory=dict)
    audio_kind: str = "librosa"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "visual_kind": self.visual_kind,
            "audio_kind": self.audio_kind,
            "map_test": round(self.map_test, 4),
            "ap_pooled_test": round(self.ap_pooled_test, 4),
            "random_baseline": round(self.random_baseline, 4),
            "train_loss": round(self.train_loss, 4),
            "per_asset_ap": {str(k): round(v, 4) for k, v in self.per_asset_ap.items()},
        }


# ---------------------------------------------------------------- features


class FeatureSource:
    """Per-second feature sequences of assets (cached per asset)."""

    def __init__(self, session: Session, visual_kind: str = "signals", audio_kind: str = "librosa"):
        self.session = session
        self.visual_kind = visual_kind
        self.audio_kind = audio_kind  # AUDIO_SPACE (the sound extractor's) or "librosa"
        self._cache: dict[int, np.ndarray] = {}
        self._t0: dict[int, float] = {}

    def steps(self, asset_id: int) -> np.ndarray:
        """(n_seconds, visual_dim + 180) for the whole asset."""
        if asset_id not in self._cache:
            self._cache[asset_id] = self._compute(asset_id)
        return self._cache[asset_id]

    def window(self, w: Window) -> np.ndarray:
        feats = self.steps(w.asset_id)
        t0 = self._t0[w.asset_id]
        a = max(0, math.floor(w.start_s - t0))
        b = min(feats.shape[0], max(a + 1, math.ceil(w.end_s - t0)))
        return feats[a:b] if b > a else feats[-1:]

    def _compute(self, asset_id: int) -> np.ndarray:
        s = self.session
        asset = s.get(Asset, asset_id)
        if asset is None:
            raise NotFound(f"no asset with id {asset_id}")
        curve = s.execute(
            select(InterestCurve).where(InterestCurve.asset_id == asset_id)
        ).scalar_one_or_none()
        if curve is None:
            raise NotFound(
                f"asset {asset_id} has no interest signals; run the 'interest' extractor"
            )
        n = len(curve.signals.get("motion") or [])
        self._t0[asset_id] = curve.t0_s
        times = curve.t0_s + np.arange(n) + 0.5
        if self.visual_kind == "signals":
            vis = np.array(
                [
                    [(curve.signals.get(k) or [None] * n)[i] or 0.0 for k in SIGNAL_FEATURES]
                    for i in range(n)
                ],
                dtype=np.float32,
            )
        else:
            vis = self._nearest_vectors(asset_id, self.visual_kind, times)
            if vis is None:
                raise ModelUnavailable(
                    f"asset {asset_id} has no {self.visual_kind} vectors, which this model needs"
                )
        aud = None
        if self.audio_kind == AUDIO_SPACE:
            aud = self._nearest_vectors(asset_id, AUDIO_SPACE, times)
        elif curve.audio_state == "ok":
            aud = mfcc_per_second(Path(media_path(asset)), curve.t0_s, n)
        if aud is None:  # no audio track (or none stored): silence
            aud = np.zeros((n, MFCC_DIM), dtype=np.float32)
        return np.concatenate([vis, aud], axis=1).astype(np.float32)

    def _nearest_vectors(self, asset_id: int, space: str, times: np.ndarray) -> np.ndarray | None:
        rows = self.session.execute(
            select(Vector.t_s, Vector.data)
            .where(Vector.asset_id == asset_id, Vector.space == space, Vector.t_s.is_not(None))
            .order_by(Vector.t_s)
        ).all()
        if not rows:
            return None
        ts = np.array([r[0] for r in rows])
        vs = np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])
        idx = np.abs(ts[None, :] - times[:, None]).argmin(axis=1)
        return vs[idx].astype(np.float32)


def mfcc_per_second(path: Path, t0_s: float, n: int) -> np.ndarray | None:
    """(n, 180): per second, the mean of 60 MFCC + delta + delta-delta (librosa)."""
    from assetdb.errors import MediaError
    from assetdb.media.audio import STATUS_NO_AUDIO, STATUS_UNDECODABLE, decode_audio

    try:
        dec = decode_audio(path, MFCC_SR)
    except MediaError as exc:
        log.info("%s: audio failed to decode for MFCC: %s", path, exc)
        return None
    if dec.status in (STATUS_NO_AUDIO, STATUS_UNDECODABLE):
        if dec.status == STATUS_UNDECODABLE:
            log.info("%s: audio failed to decode for MFCC: %s", path, dec.reason)
        return None
    if dec.samples.size < MFCC_SR // 2:
        return None
    import librosa

    y, a0 = dec.samples, dec.origin_s
    hop = 512
    m = librosa.feature.mfcc(y=y, sr=MFCC_SR, n_mfcc=N_MFCC, hop_length=hop)
    width = min(9, m.shape[1] - (1 - m.shape[1] % 2)) if m.shape[1] >= 3 else 0
    if width >= 3:
        d1 = librosa.feature.delta(m, width=width)
        d2 = librosa.feature.delta(m, order=2, width=width)
    else:
        d1 = d2 = np.zeros_like(m)
    f = np.concatenate([m, d1, d2], axis=0).T  # (frames, 180)
    ft = a0 + np.arange(f.shape[0]) * hop / MFCC_SR
    out = np.zeros((n, MFCC_DIM), dtype=np.float32)
    for k in range(n):
        sel = (ft >= t0_s + k) & (ft < t0_s + k + 1)
        if sel.any():
            out[k] = f[sel].mean(axis=0)
    return out


# ---------------------------------------------------------------- model


def _make_model(in_dim: int, vis_dim: int):
    import torch
    from torch import nn

    class InterestLSTM(nn.Module):
        """Each modality is first projected to PROJ dims (audio through dropout: its 180
        MFCC dims would otherwise swamp the few visual ones on small training sets), the
        fused sequence runs through the LSTM, and the per-step outputs are averaged."""

        def __init__(self) -> None:
            super().__init__()
            self.vis_dim = vis_dim
            self.vis = nn.Linear(vis_dim, PROJ)
            self.aud = nn.Sequential(nn.Dropout(AUDIO_DROPOUT), nn.Linear(in_dim - vis_dim, PROJ))
            self.lstm = nn.LSTM(2 * PROJ, HIDDEN, batch_first=True)
            self.head = nn.Linear(HIDDEN, 1)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            v, a = x[..., : self.vis_dim], x[..., self.vis_dim :]
            z = torch.tanh(torch.cat([self.vis(v), self.aud(a)], dim=-1))
            h, _ = self.lstm(z)
            logits = self.head(h).squeeze(-1)  # per step
            # temporal averaging of the per-step outputs over the valid steps
            return (logits * mask).sum(1) / mask.sum(1).clamp(min=1)

    return InterestLSTM()


def _batch(seqs: list[np.ndarray], mean: np.ndarray, std: np.ndarray):
    import torch

    t = max(s.shape[0] for s in seqs)
    d = seqs[0].shape[1]
    x = np.zeros((len(seqs), t, d), dtype=np.float32)
    m = np.zeros((len(seqs), t), dtype=np.float32)
    for i, s in enumerate(seqs):
        x[i, : s.shape[0]] = (s - mean) / std
        m[i, : s.shape[0]] = 1.0
    return torch.from_numpy(x), torch.from_numpy(m)


def read_csv(session: Session, csv_path: Path) -> list[Window]:
    out: list[Window] = []
    with Path(csv_path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        if not {"start", "end"} <= cols or not ({"asset", "asset_id", "path"} & cols):
            raise AssetdbError(
                "the CSV needs columns asset (path or id), start, end, label or score"
            )
        tcol = "label" if "label" in cols else "score" if "score" in cols else None
        if tcol is None:
            raise AssetdbError("the CSV needs a 'label' (0/1) or 'score' (0..1) column")
        ids: dict[str, int] = {}
        for i, row in enumerate(reader, start=2):
            ref = row.get("asset") or row.get("asset_id") or row.get("path") or ""
            if ref not in ids:
                ids[ref] = load_asset(session, ref).id
            try:
                w = Window(ids[ref], float(row["start"]), float(row["end"]), float(row[tcol]))
            except (TypeError, ValueError) as exc:
                raise AssetdbError(f"{csv_path}:{i}: bad row {row}: {exc}") from exc
            if w.end_s <= w.start_s or not 0.0 <= w.target <= 1.0:
                raise AssetdbError(f"{csv_path}:{i}: need end > start and a target in 0..1")
            out.append(w)
    if len(out) < 4:
        raise AssetdbError("need at least 4 labelled windows to train and evaluate")
    return out


def split(
    windows: list[Window], test_fraction: float = TEST_FRACTION
) -> tuple[list[int], list[int]]:
    """Deterministic held-out split, stratified by (rounded) label."""
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for lab in sorted({round(w.target) for w in windows}):
        idx = [i for i, w in enumerate(windows) if round(w.target) == lab]
        rng.shuffle(idx)
        k = max(1, round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        test += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(test)


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y_true, scores))


def _choose_visual_kind(session: Session, asset_ids: set[int]) -> str:
    common: set[str] | None = None
    for aid in asset_ids:
        spaces = set(_visual_spaces(session, aid))
        common = spaces if common is None else common & spaces
    if common:
        return min(common, key=lambda s: (not s.startswith("concepts:"), s))
    return "signals"


def _choose_audio_kind(session: Session, asset_ids: set[int]) -> str:
    """The sound extractor's per-shot vectors when every asset has them, else MFCC per
    second computed here: one kind per model, never mixed (their scales differ)."""
    for aid in asset_ids:
        has = session.execute(
            select(Vector.id).where(Vector.asset_id == aid, Vector.space == AUDIO_SPACE).limit(1)
        ).first()
        if has is None:
            return "librosa"
    return AUDIO_SPACE


def train(
    session: Session, csv_path: Path, model_dir: Path, *, epochs: int = EPOCHS
) -> TrainReport:
    import torch

    windows = read_csv(session, csv_path)
    kind = _choose_visual_kind(session, {w.asset_id for w in windows})
    audio_kind = _choose_audio_kind(session, {w.asset_id for w in windows})
    fs = FeatureSource(session, kind, audio_kind)
    seqs = [fs.window(w) for w in windows]
    y = np.array([w.target for w in windows], dtype=np.float32)
    tr, te = split(windows)
    if not te or not tr:
        raise AssetdbError("too few windows per class for a held-out split")
    allx = np.concatenate([seqs[i] for i in tr])
    mean, std = allx.mean(0), allx.std(0) + 1e-6
    torch.manual_seed(SEED)
    vis_dim = allx.shape[1] - MFCC_DIM
    model = _make_model(allx.shape[1], vis_dim)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    x, m = _batch([seqs[i] for i in tr], mean, std)
    yt = torch.from_numpy(y[tr])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(x, m), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        xt, mt = _batch([seqs[i] for i in te], mean, std)
        pred = torch.sigmoid(model(xt, mt)).numpy()
    yb = (y[te] >= 0.5).astype(int)
    pooled = average_precision(yb, pred) if 0 < yb.sum() < len(yb) else float("nan")
    per_asset: dict[int, float] = {}
    for aid in sorted({windows[i].asset_id for i in te}):
        sel = [j for j, i in enumerate(te) if windows[i].asset_id == aid]
        ya = yb[sel]
        if 0 < ya.sum() < len(ya):
            per_asset[aid] = average_precision(ya, pred[sel])
    map_test = float(np.mean(list(per_asset.values()))) if per_asset else pooled
    digest = hashlib.sha256(Path(csv_path).read_bytes()).hexdigest()[:8]
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{MODEL_NAME}-v{MODEL_VERSION}-{digest}.pt"
    report = TrainReport(
        model_path=path,
        n_train=len(tr),
        n_test=len(te),
        visual_kind=kind,
        map_test=map_test,
        ap_pooled_test=pooled,
        random_baseline=float(yb.mean()),
        train_loss=float(loss.item()),
        per_asset_ap=per_asset,
        audio_kind=audio_kind,
    )
    torch.save(
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "visual_kind": kind,
            "audio_kind": audio_kind,
            "in_dim": int(allx.shape[1]),
            "vis_dim": int(vis_dim),
            "hidden": HIDDEN,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "state_dict": model.state_dict(),
            "metrics": report.to_dict(),
            "csv_sha256_8": digest,
        },
        path,
    )
    return report


def latest_model(model_dir: Path) -> Path:
    files = sorted(Path(model_dir).glob(f"{MODEL_NAME}-v*.pt"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise ModelUnavailable(
            f"no trained interest model in {model_dir}; run `assetdb interest train CSV` first"
        )
    return files[-1]


class LearnedScorer:
    def __init__(self, path: Path):
        import torch

        try:
            blob = torch.load(path, map_location="cpu", weights_only=False)
        except (OSError, RuntimeError) as exc:
            raise ModelUnavailable(f"cannot load interest model {path}: {exc}") from exc
        if blob.get("name") != MODEL_NAME or blob.get("version") != MODEL_VERSION:
            raise ModelUnavailable(
                f"{path} is {blob.get('name')} v{blob.get('version')}; this assetdb reads "
                f"{MODEL_NAME} v{MODEL_VERSION}: retrain with `assetdb interest train`"
            )
        self.path = path
        self.meta = {k: v for k, v in blob.items() if k != "state_dict"}
        self.model = _make_model(blob["in_dim"], blob["vis_dim"])
        self.model.load_state_dict(blob["state_dict"])
        self.model.eval()
        self.mean = np.asarray(blob["mean"], dtype=np.float32)
        self.std = np.asarray(blob["std"], dtype=np.float32)
        self.visual_kind = blob["visual_kind"]
        self.audio_kind = blob.get("audio_kind", "librosa")

    def score_windows(self, session: Session, windows: list[Window]) -> np.ndarray:
        import torch

        fs = FeatureSource(session, self.visual_kind, self.audio_kind)
        seqs = [fs.window(w) for w in windows]
        if seqs and seqs[0].shape[1] != self.mean.shape[0]:
            raise ModelUnavailable(
                f"feature size {seqs[0].shape[1]} does not match the model's {self.mean.shape[0]}"
            )
        with torch.no_grad():
            x, m = _batch(seqs, self.mean, self.std)
            return torch.sigmoid(self.model(x, m)).numpy()

    def score_asset(self, session: Session, asset_ref: int | str) -> list[dict[str, Any]]:
        from assetdb.schema import Segment

        asset = load_asset(session, asset_ref)
        segs = (
            session.execute(
                select(Segment).where(Segment.asset_id == asset.id).order_by(Segment.index)
            )
            .scalars()
            .all()
        )
        wins = [Window(asset.id, s.start_s, s.end_s, 0.0) for s in segs]
        if not wins:
            raise NotFound(f"asset {asset.id} has no segments")
        scores = self.score_windows(session, wins)
        return [
            {
                "segment_id": s.id,
                "index": s.index,
                "start_s": round(s.start_s, 3),
                "end_s": round(s.end_s, 3),
                "score": round(float(p), 4),
            }
            for s, p in zip(segs, scores, strict=True)
        ]


def model_info(path: Path) -> dict[str, Any]:
    return json.loads(json.dumps(LearnedScorer(path).meta, default=str))
