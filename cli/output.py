"""The one output path of the CLI. stdout is data; messages, logs and progress go to stderr.

Every command that prints data goes through here:
- ``--json``: machine values, as the library returns them;
- ``--csv``: a header row, then machine values;
- piped (stdout not a terminal): TSV with a header row; tabs, newlines and backslashes
  inside values are escaped (``\\t``, ``\\n``, ``\\\\``) so one record is one line;
- on a terminal: rich tables with column headers and readable values (timecodes,
  29.97 fps, MP4). User text is never read as rich markup: ``[v2]`` stays ``[v2]``.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import PurePath
from typing import Any

from rich.console import Console

err_console = Console(stderr=True, soft_wrap=True, highlight=False)

Human = Callable[[Any], str]


def message(text: str) -> None:
    """One line on stderr, printed as is (no markup, no highlighting)."""
    err_console.print(text, markup=False, highlight=False, emoji=False)


def is_terminal() -> bool:
    return sys.stdout.isatty()


# ------------------------------------------------------------------ values


def cell(v: Any) -> str:
    """A machine value as text (CSV, TSV)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def tsv_cell(v: Any) -> str:
    return (cell(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def clock(seconds: Any) -> str:
    """Seconds as HH:MM:SS.mmm (a time without a frame rate)."""
    if seconds is None or seconds == "":
        return ""
    s = float(seconds)
    sign = "-" if s < 0 else ""
    ms = round(abs(s) * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    return f"{sign}{h:02d}:{m:02d}:{rem // 1000:02d}.{rem % 1000:03d}"


def fps(rate: Any) -> str:
    """'2997/100' or 29.97 -> '29.97 fps'."""
    if rate in (None, ""):
        return ""
    try:
        r = float(Fraction(str(rate)))
    except (ValueError, ZeroDivisionError):
        return str(rate)
    return f"{r:.3f}".rstrip("0").rstrip(".") + " fps"


CONTAINERS = {"matroska": "Matroska", "mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "mxf": "MXF",
              "image2": "image", "png_pipe": "PNG", "jpeg_pipe": "JPEG", "webp_pipe": "WebP",
              "tiff_pipe": "TIFF", "bmp_pipe": "BMP", "gif": "GIF", "wav": "WAV", "flac": "FLAC",
              "mp3": "MP3", "ogg": "Ogg", "avi": "AVI", "asf": "ASF"}


def container(format_name: Any, path: Any = None) -> str:
    """ffmpeg's demuxer list ('mov,mp4,m4a,3gp,3g2,mj2') -> the format of this file ('MP4')."""
    if not format_name:
        return ""
    names = str(format_name).split(",")
    ext = PurePath(str(path)).suffix.lower().lstrip(".") if path else ""
    if ext and ext in names:
        return ext.upper()
    return CONTAINERS.get(names[0], names[0].upper())


def human_value(key: str, v: Any, row: Mapping[str, Any] | None = None) -> str:
    """A readable rendering of a known field; anything else as its text."""
    if v is None:
        return ""
    if key in ("frame_rate", "rate"):
        return fps(v)
    if key == "container":
        return container(v, (row or {}).get("path"))
    if key in ("duration_s", "duration"):
        return clock(v)
    if key in ("start_s", "end_s", "t_s", "t", "time_s"):
        return clock(v)
    if key == "media_hours":
        return clock(float(v) * 3600)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


# ------------------------------------------------------------------ writers


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _text(v: str, style: str | None = None):
    from rich.text import Text

    return Text(v, style=style or "")


# terminal headers for machine field names
LABELS = {"duration_s": "duration", "start_s": "start", "end_s": "end", "t_s": "time",
          "time_s": "time", "tc_in": "in", "tc_out": "out", "frame_rate": "frame rate",
          "start_tc": "start timecode",
          "segment_index": "shot", "segment_id": "seg", "asset_id": "asset", "person_id": "person#"}
# columns of free text: they wrap; the others keep their width
WIDE = {"path", "error", "snippet", "why", "keyframes", "value", "thumbnail", "name", "person",
        "text", "label", "labels", "warning", "database"}


def _table(columns: Sequence[str], title: str | None = None):
    from rich.table import Table

    table = Table(title=_text(title, "bold") if title else None, title_justify="left",
                  header_style="bold", show_edge=False, pad_edge=False)
    for c in columns:
        wide = c in WIDE
        table.add_column(_text(LABELS.get(c, c)), overflow="fold", no_wrap=not wide,
                         ratio=1 if wide else None)
    return table


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool = False,
    as_csv: bool = False,
    title: str | None = None,
    human: Mapping[str, Human] | None = None,
    json_data: Any = None,
) -> None:
    """A list of records: JSON, CSV, TSV when piped, a table on a terminal.
    ``human`` renders columns for the terminal; ``json_data`` replaces ``rows`` for
    ``--json`` when the JSON form carries more than the table."""
    if as_json:
        print_json(list(rows) if json_data is None else json_data)
        return
    if as_csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([cell(r.get(c)) for c in columns])
        return
    if not is_terminal():
        sys.stdout.write("\t".join(columns) + "\n")
        for r in rows:
            sys.stdout.write("\t".join(tsv_cell(r.get(c)) for c in columns) + "\n")
        return
    _console().print(_rows_table(rows, columns, title, human))


def _rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None,
                human: Mapping[str, Human] | None):
    cells = [[_human_cell(c, r, human) for c in columns] for r in rows]
    # a column empty in every row (no errors, no snippets) only takes room on a terminal
    keep = [i for i in range(len(columns)) if not rows or any(row[i] for row in cells)]
    table = _table([columns[i] for i in keep], title)
    for row in cells:
        table.add_row(*[_text(row[i]) for i in keep])
    return table


def _human_cell(col: str, row: Mapping[str, Any], human: Mapping[str, Human] | None) -> str:
    v = row.get(col)
    if human and col in human:
        return human[col](v) if v is not None else ""
    return human_value(col, v, row)


@dataclass
class Section:
    """A titled list of records inside a record (`assets show`'s shots, objects...)."""

    name: str
    columns: list[str]
    rows: list[Mapping[str, Any]]
    human: Mapping[str, Human] = field(default_factory=dict)


def print_record(
    fields: Sequence[tuple[str, Any]],
    sections: Sequence[Section] = (),
    *,
    context: Mapping[str, Any] | None = None,
) -> None:
    """One thing described by fields and sections. Piped: ``field<TAB>value`` lines, and
    per section ``name<TAB>count``, then its header and rows indented by two spaces.
    On a terminal: a field/value table, then one table per section with headers."""
    if not is_terminal():
        out = [f"{tsv_cell(k)}\t{tsv_cell(v)}" for k, v in fields]
        for sec in sections:
            out.append(f"{sec.name}\t{len(sec.rows)}")
            out.append("  " + "\t".join(sec.columns))
            out += ["  " + "\t".join(tsv_cell(r.get(c)) for c in sec.columns) for r in sec.rows]
        sys.stdout.write("".join(line + "\n" for line in out))
        return
    console = _console()
    table = _table(["field", "value"])
    for k, v in fields:
        table.add_row(_text(LABELS.get(k, k.replace("_", " "))), _text(human_value(k, v, context)))
    console.print(table)
    for sec in sections:
        console.print()
        console.print(_rows_table(sec.rows, sec.columns, f"{sec.name} ({len(sec.rows)})",
                                  sec.human))


def print_line(text: str) -> None:
    """One line of data on stdout, as is."""
    sys.stdout.write(text + "\n")
