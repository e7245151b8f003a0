"""The media layer: the only code that opens media files.

- ``probe``: recognise media by content (the scanner's sniffing), read what a media
  manager needs to know (streams, rotation, duration, tags), content hashes.
- ``frames``: the one video frame decoder (sequential pass and frames at chosen
  times) and its one rule for which frame a time means.
- ``grid``: the real frame timestamps of a stream, by demuxing (cuts on real frames).
- ``audio``: the one audio decoder (any container, resampled once, damage counted).
- ``images``: the one still-image loader (EXIF orientation, RGB uint8).
- ``times``: ``MediaTime``, a timestamp in a rational time base.

Submodules import PyAV, Pillow and OpenCV lazily; importing this package is cheap.
"""
