"""Free-text queries a person would type, with relevance defined from the ImageNet
class indexes of ``images/imagenet-1k-samples/labels.csv`` (one image per class).

The queries deliberately avoid the class names: "a bird" has to find "goldfinch",
"magpie" and "bald eagle"; "a musical instrument" has to find "cornet" and "sax".
Ranges follow the WordNet grouping of the ILSVRC-2012 class order.
"""

from __future__ import annotations

import csv
from pathlib import Path


def _r(a: int, b: int) -> set[int]:
    return set(range(a, b + 1))


QUERIES: dict[str, set[int]] = {
    "a bird": _r(7, 24) | _r(80, 100) | _r(127, 146),
    "a musical instrument": {
        401, 402, 420, 432, 486, 494, 513, 541, 546, 558, 566, 577, 579, 593, 594,
        641, 642, 683, 684, 687, 699, 776, 822, 875, 881, 889,
    },
    "cars on a road": {
        407, 436, 468, 511, 609, 627, 656, 661, 717, 734, 751, 817, 864, 867, 675, 654,
        569, 555, 779, 874, 757, 573, 575,
    },
    "a dog": _r(151, 268),
    "a snake": _r(52, 68),
    "a monkey": _r(365, 384),
    "insects": _r(300, 326),
    "a boat on the water": {403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914},
    "something to eat": {924, 925, 926, 927, 928, 929, 930, 931, 932, 933, 934, 935, 959, 962,
                         963, 964, 965},
    "fruit": {948, 949, 950, 951, 952, 953, 954, 955, 956, 957},
    "something to sit on": {423, 559, 765, 857, 703, 831},
    "computer equipment": {508, 527, 590, 620, 664, 673, 681, 742, 782, 810, 878},
    "a place of worship": {406, 442, 497, 663, 668, 832},
    "a big cat in the wild": _r(286, 293),
    "kitty": _r(281, 285),  # a pet word for the domestic cats
    "a parrot": {87, 88, 89, 90},  # African grey, macaw, cockatoo, lorikeet
    "sea creatures": _r(0, 6) | _r(107, 126) | _r(389, 397),
}


def shared_data() -> Path:
    """``../shared/data`` from the repository root (worktrees sit one level deeper)."""
    here = Path(__file__).resolve().parents[1]
    for d in (here, *here.parents):
        if (d / ".." / "shared" / "data").is_dir():
            return (d / ".." / "shared" / "data").resolve()
    raise FileNotFoundError("../shared/data not found above " + str(here))


def load_labels(folder: Path) -> list[tuple[str, int, str]]:
    """(file name, class index, class name) for every row of labels.csv."""
    with (folder / "labels.csv").open(newline="") as fh:
        return [(r["file"], int(r["class_index"]), r["class_name"]) for r in csv.DictReader(fh)]
