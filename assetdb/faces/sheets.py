"""Contact sheets: a grid image of a person's face crops."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb import layout
from assetdb.errors import MediaError, NotFound
from assetdb.faces.persons import get_person
from assetdb.schema import Face

log = logging.getLogger(__name__)

CONTACT_SHEET_COLS = 8
CONTACT_SHEET_CELL_PX = 128
CONTACT_SHEET_MAX = 64


def contact_sheet(
    session: Session, ref: str | int, data_dir: Path, dest: Path | None = None
) -> Path:
    """A grid image of a person's face crops (best quality first)."""
    from PIL import Image, ImageDraw

    from assetdb.media.images import load_rgb

    p = get_person(session, ref)
    crops = session.execute(
        select(Face.id, Face.crop_path)
        .where(Face.person_id == p.id, Face.crop_path.is_not(None))
        .order_by(Face.quality.desc(), Face.id)
        .limit(CONTACT_SHEET_MAX)
    ).all()
    if not crops:
        raise NotFound(f"person #{p.id} has no face images")
    cell = CONTACT_SHEET_CELL_PX
    cols = min(CONTACT_SHEET_COLS, len(crops))
    rows = (len(crops) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * cell), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for k, (fid, rel) in enumerate(crops):
        src = Path(data_dir) / rel
        x0, y0 = (k % cols) * cell, (k // cols) * cell
        try:
            im = Image.fromarray(load_rgb(src))
            im.thumbnail((cell, cell))
            sheet.paste(im, (x0 + (cell - im.width) // 2, y0 + (cell - im.height) // 2))
        except MediaError:
            log.warning("face crop %s is missing", src)
        draw.text((x0 + 3, y0 + 2), str(fid), fill=(255, 255, 0))
    if dest is None:
        dest = layout.person_sheet(data_dir, p.id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest, quality=88)
    return dest


