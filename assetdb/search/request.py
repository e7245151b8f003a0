"""What a search asks for, and its validation.

:func:`validate_request` checks a :class:`SearchRequest` with the standard library
alone: it imports no model, opens no database and loads no index, so a caller (the
CLI) can reject a bad request before paying for any of that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from assetdb.errors import QueryError

KINDS = ("video", "image", "audio")
DEFAULT_WEIGHTS = {"visual": 1.0, "like": 1.0, "text": 1.0, "transcript": 0.8, "sound": 1.0,
                   "sound_events": 1.0}
SOURCES = tuple(DEFAULT_WEIGHTS)
WEAK_MATCHES = 3  # what `assetdb search` and /api/search show when nothing is good


@dataclass
class SearchRequest:
    query: str | None = None
    like_image: Path | None = None
    like_shot: int | None = None
    kind: str | None = None
    path: str | None = None  # glob over the asset path
    after: datetime | str | None = None  # Asset.created_at; ISO text is parsed by validation
    before: datetime | str | None = None
    min_duration: float | None = None  # seconds, of the segment
    max_duration: float | None = None
    limit: int = 20
    # by default one hit per file (its best shot, with the number of other matching
    # shots); all_shots lists every matching shot. per_asset is the old name of the
    # default and is kept so that callers keep working.
    all_shots: bool = False
    per_asset: bool = False
    # calibrated fusion: the least fused relevance (0..1) a hit needs, DEFAULT_CUTOFF
    # when None; fusion="rrf": the fraction of the best fused score
    cutoff: float | None = None
    fusion: str = "calibrated"  # or "rrf" (reciprocal rank, the previous default)
    # calibrated fusion: when no hit reaches the cutoff, the best this-many hits below it
    # come back marked weak (SearchHit.weak) instead of nothing; 0 (the library's
    # default): nothing comes back. The CLI and the web API ask for WEAK_MATCHES.
    weak: int = 0
    # query arithmetic over the visual space (rclip's): (weight, text) terms added to /
    # subtracted from the query's embedding, (weight, image path) terms added
    add: list[tuple[float, str]] = field(default_factory=list)
    subtract: list[tuple[float, str]] = field(default_factory=list)
    add_images: list[tuple[float, Path]] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)  # every one of them in the shot
    objects: list[str] = field(default_factory=list)  # every one of them in the shot
    sounds: list[str] = field(default_factory=list)  # AudioSet labels, every one heard
    sounds_like: Path | None = None
    sounds_like_shot: int | None = None
    explain: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    def has_ranking(self) -> bool:
        return bool(
            (self.query and self.query.strip())
            or self.add
            or self.add_images
            or self.like_image
            or self.like_shot is not None
            or self.sounds_like
            or self.sounds_like_shot is not None
        )

    def has_filters(self) -> bool:
        return bool(
            self.kind or self.path or self.after or self.before or self.min_duration is not None
            or self.max_duration is not None or self.persons or self.objects
            or self.sounds
        )


def parse_time(value: datetime | str | None, flag: str) -> datetime | None:
    """An ISO date or date-time (``2024-05-01``, ``2024-05-01T12:00``), or None."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise QueryError(
            f"{flag} takes an ISO date or date-time, e.g. 2024-05-01, not {value!r}"
        ) from None


FUSIONS = ("calibrated", "rrf")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_term(value: str | tuple, flag: str, *, image: bool = False) -> tuple[float, str]:
    """``"2:night"`` -> (2.0, "night"); ``"night"`` -> (1.0, "night"). An image term
    whose whole text names a file keeps it as the path even when it contains a colon."""
    if isinstance(value, tuple):
        w, term = value
        return float(w), str(term)
    text = str(value).strip()
    weight, term = 1.0, text
    head, sep, tail = text.partition(":")
    if sep and not tail.strip() and _is_number(head):
        term = ""
    elif sep and tail.strip() and not (image and Path(text).exists()):
        try:
            weight, term = float(head), tail.strip()
        except ValueError:
            weight, term = 1.0, text
    if not term:
        raise QueryError(f"{flag} needs a term, e.g. {flag} \"2:night\"")
    if not (0 < weight < float("inf")):
        raise QueryError(f"{flag} {value!r}: the weight must be a positive number")
    return weight, term


def validate_request(req: SearchRequest) -> SearchRequest:
    """Check ``req`` and return it with ``after``/``before`` parsed to datetimes;
    raises QueryError naming the offending option. Loads nothing."""
    if req.limit is None or isinstance(req.limit, bool) or req.limit < 1:
        raise QueryError("--limit must be at least 1")
    if req.kind and req.kind not in KINDS:
        raise QueryError(f"--kind must be one of {', '.join(KINDS)}, not {req.kind!r}")
    if req.fusion not in FUSIONS:
        raise QueryError(f"fusion must be one of {', '.join(FUSIONS)}, not {req.fusion!r}")
    if req.cutoff is not None and not 0 <= req.cutoff <= 1:
        raise QueryError("--cutoff is a relevance between 0 and 1")
    if req.weak is None or isinstance(req.weak, bool) or req.weak < 0:
        raise QueryError("the number of weak matches cannot be negative")
    req.add = [parse_term(t, "--add") for t in req.add]
    req.subtract = [parse_term(t, "--subtract") for t in req.subtract]
    req.add_images = [(w, Path(p)) for w, p in
                      (parse_term(t, "--add-image", image=True) for t in req.add_images)]
    for _, p in req.add_images:
        if not p.is_file():
            raise QueryError(f"--add-image: no such image {p}")
    if req.subtract and not (req.query and req.query.strip()) and not req.add \
            and not req.add_images and not req.like_image:
        raise QueryError("--subtract needs something to subtract from: a query, --add or "
                         "--add-image")
    if req.like_image and not Path(req.like_image).is_file():
        raise QueryError(f"--like: no such image {req.like_image}")
    if req.sounds_like and not Path(req.sounds_like).is_file():
        raise QueryError(f"--sounds-like: no such file {req.sounds_like}")
    for name, value in (("--min-duration", req.min_duration), ("--max-duration", req.max_duration)):
        if value is not None and value < 0:
            raise QueryError(f"{name} cannot be negative")
    if (req.min_duration is not None and req.max_duration is not None
            and req.min_duration > req.max_duration):
        raise QueryError("--min-duration is larger than --max-duration")
    req.after = parse_time(req.after, "--after")
    req.before = parse_time(req.before, "--before")
    if req.after is not None and req.before is not None:
        if (req.after.tzinfo is None) != (req.before.tzinfo is None):
            raise QueryError("--after and --before must both have a time zone or neither")
        if req.after >= req.before:
            raise QueryError("--after must be earlier than --before")
    for name, w in req.weights.items():
        if name not in SOURCES:
            raise QueryError(f"unknown search source {name!r}; expected one of {', '.join(SOURCES)}")
        if w < 0:
            raise QueryError(f"the weight of {name} cannot be negative")
    if req.sounds:
        # the label list is a csv inside the installed model package: no model loads
        from assetdb.models.yamnet import resolve_sounds

        resolve_sounds(list(req.sounds))
    if req.query is not None and not req.query.strip() and not req.has_ranking():
        raise QueryError("the query is empty: give words to look for, --like, --like-shot "
                         "or --sounds-like")
    if not req.has_ranking() and not req.has_filters():
        raise QueryError("nothing to search for: give a query, --like, --like-shot, "
                         "--sounds-like or a filter")
    return req
