"""Audio over PyAV: the one decoder of sound from any container.

The first decodable audio stream, resampled once to one rate (16 kHz by default:
what silero-vad and whisper need, and enough for the librosa features, so one
resample serves every sound stage), as float32: downmixed to mono (``samples`` of
shape (n,)), or in another channel layout (shape (channels, n)). Sample 0 is the
asset's t=0: the first video frame when there is video (shots are timed from it),
else the container's start; ``origin_s`` is that instant in container time. A window
of the track can be decoded alone (``start_s``/``end_s``, for rendering). A packet
that fails to decode is skipped and counted.

Nothing here raises on a bad track: the result carries a ``status`` and a
``reason`` the extractors store, because "this file has no usable sound" is a
fact about the asset, not a failure of the indexer. Only a file that cannot be
opened at all raises ``MediaError``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assetdb.errors import MediaError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Below this peak (about -80 dBFS) a track is digital silence or dither.
SILENCE_PEAK = 1e-4
# Give up on a stream after this many packets fail to decode with nothing decoded.
MAX_LEADING_ERRORS = 50
# Decoding less than this share of the declared duration marks the track partial.
TRUNCATED_RATIO = 0.9

STATUS_OK = "ok"
STATUS_PARTIAL = "partial"  # decoded, but some packets failed
STATUS_SILENT = "silent"
STATUS_NO_AUDIO = "no_audio"
STATUS_UNDECODABLE = "undecodable"


@dataclass
class DecodedAudio:
    samples: np.ndarray  # float32, (n,) mono or (channels, n); sample 0 is the asset's t=0
    sample_rate: int
    status: str
    reason: str | None = None
    stream_index: int | None = None
    codec: str | None = None
    source_rate: int | None = None
    channels: int | None = None
    layout: str | None = None
    decode_errors: int = 0
    tried: list[str] = field(default_factory=list)
    origin_s: float = 0.0  # container time (s) of sample 0

    @property
    def duration_s(self) -> float:
        return self.samples.shape[-1] / self.sample_rate if self.sample_rate else 0.0

    @property
    def usable(self) -> bool:
        return self.status in (STATUS_OK, STATUS_PARTIAL)

    @property
    def peak(self) -> float:
        return float(np.abs(self.samples).max()) if len(self.samples) else 0.0


def _empty(status: str, reason: str, sr: int, tried: list[str] | None = None) -> DecodedAudio:
    return DecodedAudio(
        samples=np.zeros(0, np.float32),
        sample_rate=sr,
        status=status,
        reason=reason,
        tried=tried or [],
    )


def _decode_stream(
    container, stream, sr: int, layout: str, stop_s: float | None = None
) -> tuple[np.ndarray, int, float | None, str | None]:
    """Decode one stream to float32 at ``sr`` in ``layout`` ("mono": shape (n,), else
    (channels, n)), up to container time ``stop_s`` when given. Returns (samples,
    errors, first_time_s, last_error)."""
    import av

    chunks: list[np.ndarray] = []
    errors = 0
    last_error: str | None = None
    first_time: float | None = None
    resampler = None
    key = None

    mono = layout == "mono"
    got = 0

    def _take(frames) -> None:
        nonlocal got
        for rf in frames:
            chunks.append(rf.to_ndarray().reshape(-1) if mono else rf.to_ndarray())
            got += chunks[-1].shape[-1]

    packets = container.demux(stream)
    while True:
        if stop_s is not None and first_time is not None and first_time + got / sr > stop_s:
            break
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.error.FFmpegError, ValueError) as exc:
            # a damaged container: keep what was decoded up to here
            errors += 1
            last_error = f"demux: {type(exc).__name__}: {exc}"
            break
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError) as exc:
            errors += 1
            last_error = f"{type(exc).__name__}: {exc}"
            if not chunks and errors >= MAX_LEADING_ERRORS:
                break
            continue
        for frame in frames:
            if first_time is None and frame.pts is not None and frame.time_base is not None:
                first_time = float(frame.pts * frame.time_base)
            # A stream may change layout or rate mid-way (AC-3 with 2.0/5.1 parts,
            # concatenated files): rebuild the resampler rather than fail.
            fkey = (frame.format.name, frame.layout.name, frame.sample_rate)
            if resampler is None or fkey != key:
                if resampler is not None:
                    _take(resampler.resample(None))
                resampler = av.AudioResampler(
                    format="flt" if mono else "fltp", layout=layout, rate=sr
                )
                key = fkey
            frame.pts = None  # resample by sample count; gaps are rare and pts may be bogus
            try:
                _take(resampler.resample(frame))
            except (av.error.FFmpegError, ValueError) as exc:
                errors += 1
                last_error = f"{type(exc).__name__}: {exc}"
    if resampler is not None:
        try:
            _take(resampler.resample(None))
        except (av.error.FFmpegError, ValueError) as exc:
            errors += 1
            last_error = f"{type(exc).__name__}: {exc}"
    if chunks:
        samples = np.concatenate(chunks, axis=-1).astype(np.float32, copy=False)
    else:
        samples = np.zeros(0 if mono else (av.AudioLayout(layout).nb_channels, 0), np.float32)
    return samples, errors, first_time, last_error


def _origin_s(container) -> float:
    """The container time that is t=0 of the asset: the first video frame when there
    is video (shots are timed from it), else the container's start."""
    for v in container.streams.video:
        if v.start_time is not None and v.time_base is not None:
            return float(v.start_time * v.time_base)
    return float(container.start_time) / 1e6 if container.start_time else 0.0


def _declared_duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1e6
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_audio(
    path: str | Path,
    sample_rate: int = SAMPLE_RATE,
    *,
    layout: str | None = "mono",
    start_s: float | None = None,
    end_s: float | None = None,
    track: int | None = None,
) -> DecodedAudio:
    """Decode the first decodable audio stream of ``path`` to float32 at
    ``sample_rate`` in ``layout``: "mono" (a downmix, shape (n,)), another FFmpeg
    layout name such as "stereo", or None for the stream's own (shape (channels, n)).

    With ``start_s`` / ``end_s`` (asset time, s) only that window is decoded (after a
    seek): sample 0 is ``start_s``, silence fills what the track does not cover, and
    ``origin_s`` is the container time of ``start_s``.

    ``track`` (0-based, in the order of the asset's ``audio_streams``) decodes that
    track only instead of the first decodable one.

    Raises MediaError (one line) only when the file cannot be opened; a file without
    usable sound is a ``status`` with a ``reason``."""
    import av

    from assetdb.media.sequences import is_sequence_path

    path = Path(path)
    if is_sequence_path(path):
        return _empty(STATUS_NO_AUDIO, "an image sequence has no audio", sample_rate)
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises many types for bad input
        raise MediaError(f"cannot open {path}: {_one_line(exc)}") from exc
    tried: list[str] = []
    try:
        n_streams = len(container.streams.audio)
        if not n_streams:
            from assetdb.media.mxf import joined_sound_files

            joined = joined_sound_files(path)
            if joined:  # an MXF OP-Atom picture file: its clip's sound is beside it
                container.close()
                pick = joined[min(track or 0, len(joined) - 1)]
                return decode_audio(pick, sample_rate, layout=layout, start_s=start_s,
                                    end_s=end_s)
            return _empty(STATUS_NO_AUDIO, "the file has no audio stream", sample_rate)
        origin = _origin_s(container)
        window = start_s is not None or end_s is not None
        t0 = origin + (start_s or 0.0)  # container time of sample 0
        stop = origin + end_s if end_s is not None else None
        wanted = range(n_streams) if track is None else [track] if track < n_streams else []
        if not wanted:
            return _empty(STATUS_NO_AUDIO, f"the file has no audio track {track}", sample_rate)
        for n in wanted:
            if n != wanted[0]:
                # a fresh demuxer: seeking to 0 lands on a video keyframe and can skip
                # the audio that comes before it
                container.close()
                container = av.open(str(path))
            stream = container.streams.audio[n]
            cc = stream.codec_context
            name = cc.name if cc is not None else "unknown"
            target = layout
            if target is None:
                nb = cc.layout.nb_channels if cc is not None and cc.layout is not None else 0
                target = cc.layout.name if nb else "stereo"
            try:
                if start_s and stream.time_base:
                    # lands on the packet before; what precedes t0 is cut below
                    seek_s = max(0.0, t0 - 0.5)
                    container.seek(int(seek_s / stream.time_base), stream=stream, backward=True)
                samples, errors, first_time, last_error = _decode_stream(
                    container, stream, sample_rate, target, stop
                )
            except (av.error.FFmpegError, ValueError, MemoryError) as exc:
                tried.append(f"stream {stream.index} ({name}): {_one_line(exc)}")
                continue
            if not samples.shape[-1]:
                why = last_error or "no audio frames decoded"
                tried.append(f"stream {stream.index} ({name}): {why} ({errors} packet errors)")
                continue
            got = samples.shape[-1] / sample_rate
            # Place sample 0 at the asset's t=0 so segment times line up with the shots.
            if first_time is not None:
                offset = round((first_time - t0) * sample_rate)
                if offset > 0:
                    pad = np.zeros((*samples.shape[:-1], offset), np.float32)
                    samples = np.concatenate([pad, samples], axis=-1)
                elif offset < 0:
                    samples = samples[..., -offset:]
            if end_s is not None:
                want = max(0, round((end_s - (start_s or 0.0)) * sample_rate))
                samples = samples[..., :want]
                if samples.shape[-1] < want:
                    pad = np.zeros((*samples.shape[:-1], want - samples.shape[-1]), np.float32)
                    samples = np.concatenate([samples, pad], axis=-1)
            src_layout = cc.layout.name if cc is not None and cc.layout is not None else None
            channels = cc.layout.nb_channels if cc is not None and cc.layout is not None else None
            status, reason = STATUS_OK, None
            problems = []
            if errors:
                problems.append(f"{errors} packets failed to decode (last: {last_error})")
            expected = None if window else _declared_duration(container, stream)
            if expected and got < expected * TRUNCATED_RATIO:
                problems.append(f"decoded {got:.2f} s of the {expected:.2f} s the file declares")
            if problems:
                status, reason = STATUS_PARTIAL, "; ".join(problems)
            if not samples.size or float(np.abs(samples).max()) < SILENCE_PEAK:
                status = STATUS_SILENT
                reason = "the audio is digital silence (peak below -80 dBFS)"
            return DecodedAudio(
                samples=samples,
                sample_rate=sample_rate,
                status=status,
                reason=reason,
                stream_index=stream.index,
                codec=name,
                source_rate=cc.sample_rate if cc else None,
                channels=channels,
                layout=src_layout,
                decode_errors=errors,
                tried=tried,
                origin_s=t0,
            )
    finally:
        container.close()
    return _empty(
        STATUS_UNDECODABLE,
        "no audio stream could be decoded: " + "; ".join(tried),
        sample_rate,
        tried,
    )

