"""Files over HTTP with single byte ranges (RFC 9110 14): what <video> seeking needs.

A missing or malformed ``Range`` header is not guessed at: a header that is not one
``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range, or one that starts past the end of
the file, gets 416 with ``Content-Range: bytes */size``.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")

mimetypes.add_type("video/mp4", ".m4v")
mimetypes.add_type("video/webm", ".webm")
mimetypes.add_type("audio/flac", ".flac")
mimetypes.add_type("audio/ogg", ".ogg")


class BadRange(ValueError):
    pass


def parse_range(header: str, size: int) -> tuple[int, int]:
    """(first byte, last byte inclusive) of a single-range header, or BadRange."""
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise BadRange(header)
    a, b = m.group(1), m.group(2)
    if not a:  # suffix: the last n bytes
        n = int(b)
        if n == 0 or size == 0:
            raise BadRange(header)
        return max(0, size - n), size - 1
    first = int(a)
    last = int(b) if b else size - 1
    if first >= size or last < first:
        raise BadRange(header)
    return first, min(last, size - 1)


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            block = fh.read(min(CHUNK_BYTES, left))
            if not block:
                break
            left -= len(block)
            yield block


def file_response(request: Request, path: Path, media_type: str | None = None) -> Response:
    size = path.stat().st_size
    media_type = media_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    rng = request.headers.get("range")
    if rng is None:
        headers["Content-Length"] = str(size)
        body = _read(path, 0, size) if request.method != "HEAD" else iter(())
        return StreamingResponse(body, status_code=200, media_type=media_type, headers=headers)
    try:
        first, last = parse_range(rng, size)
    except BadRange:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    length = last - first + 1
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(length)
    body = _read(path, first, length) if request.method != "HEAD" else iter(())
    return StreamingResponse(body, status_code=206, media_type=media_type, headers=headers)
