"""Highlights: the interestingness of every moment of a video and reels cut from it.

- :mod:`.interest`: the interest formula over stored signals (per second, per shot),
  and ``detail_rows`` for ``assets show``.
- :mod:`.model`: the learned interest model (train, score, inspect).
- :mod:`.selection`: choosing diverse, interesting windows within a duration budget,
  for one asset or for the shots a search matches.
- :mod:`.reel`: clips and reels on their sources' frame grids, dissolves.
- :mod:`.export`: OpenTimelineIO/EDL/FCP XML/JSON timelines and rendered MP4 reels;
  :mod:`.edl` the CMX3600 writer; :mod:`.selects` search hits as a timeline or shot list;
  :mod:`.source` a source's start timecode and reel.
"""

from assetdb.highlights.export import FORMATS, has_adapter, render_mp4, to_otio, write_reel
from assetdb.highlights.interest import (
    AUDIO_SPACE,
    WEIGHTS,
    AssetScores,
    SecondScore,
    ShotScore,
    combine,
    detail_rows,
    gate_terms,
    load_asset,
    media_path,
    score_asset,
    shot_scores,
    squash,
)
from assetdb.highlights.model import (
    FeatureSource,
    LearnedScorer,
    TrainReport,
    Window,
    latest_model,
    model_info,
    read_csv,
    train,
)
from assetdb.highlights.reel import Clip, Reel
from assetdb.highlights.selection import (
    DEFAULT_FADE_S,
    DEFAULT_MAX_CLIP_S,
    QUERY_CUTOFF,
    highlights_for_asset,
    highlights_for_query,
    select_clips,
)

__all__ = [
    "AUDIO_SPACE",
    "DEFAULT_FADE_S",
    "DEFAULT_MAX_CLIP_S",
    "FORMATS",
    "QUERY_CUTOFF",
    "WEIGHTS",
    "AssetScores",
    "Clip",
    "FeatureSource",
    "LearnedScorer",
    "Reel",
    "SecondScore",
    "ShotScore",
    "TrainReport",
    "Window",
    "combine",
    "detail_rows",
    "gate_terms",
    "has_adapter",
    "highlights_for_asset",
    "highlights_for_query",
    "latest_model",
    "load_asset",
    "media_path",
    "model_info",
    "read_csv",
    "render_mp4",
    "score_asset",
    "select_clips",
    "shot_scores",
    "squash",
    "to_otio",
    "train",
    "write_reel",
]
