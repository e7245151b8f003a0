"""WordNet 3.0 nouns for the ImageNet classes: synonyms, hypernyms and the gloss.

ImageNet's 1000 classes are WordNet noun synsets; ``data/imagenet_wnids.txt`` lists
their ids in the classifier's output order (the ILSVRC-2012 order, sorted ids). The
lexical database is read from the Debian package ``wordnet-base``
(``/usr/share/wordnet/data.noun``; ``scripts/setup`` installs it): a synset id
``n02123045`` is the byte offset 2123045 of its line in ``data.noun``, so a lookup is
one seek. ``ASSETDB_WORDNET_DIR`` points elsewhere (a folder holding ``data.noun``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assetdb.errors import ModelUnavailable

WORDNET_DIRS = ("/usr/share/wordnet",)
WNIDS_FILE = Path(__file__).with_name("data") / "imagenet_wnids.txt"


@dataclass(frozen=True)
class Synset:
    offset: int
    lemmas: tuple[str, ...]  # "domestic cat", "house cat", ...
    hypernyms: tuple[int, ...]  # offsets of the direct hypernyms (@, @i)
    gloss: str


def data_noun() -> Path:
    dirs = [os.environ["ASSETDB_WORDNET_DIR"]] if os.environ.get("ASSETDB_WORDNET_DIR") else []
    for d in [*dirs, *WORDNET_DIRS]:
        p = Path(d) / "data.noun"
        if p.is_file():
            return p
    raise ModelUnavailable("WordNet is not installed: apt-get install wordnet-base "
                           "(or set ASSETDB_WORDNET_DIR to a folder with data.noun)")


def available() -> bool:
    try:
        data_noun()
    except ModelUnavailable:
        return False
    return True


def imagenet_wnids() -> list[str]:
    return WNIDS_FILE.read_text().split()


def _parse(line: str) -> Synset:
    body, _, gloss = line.partition(" | ")
    f = body.split()
    offset, n_words = int(f[0]), int(f[3], 16)
    lemmas = tuple(f[4 + 2 * i].replace("_", " ") for i in range(n_words))
    lemmas = tuple(lm.split("(")[0] for lm in lemmas)  # "(a)"/"(p)" adjective markers
    i = 4 + 2 * n_words
    n_ptr = int(f[i])
    hyper = []
    for j in range(n_ptr):
        sym, off, pos = f[i + 1 + 4 * j], f[i + 2 + 4 * j], f[i + 3 + 4 * j]
        if sym in ("@", "@i") and pos == "n":
            hyper.append(int(off))
    return Synset(offset, lemmas, tuple(hyper), gloss.strip())


@cache
def synset(offset: int) -> Synset:
    with open(data_noun(), "rb") as fh:
        fh.seek(offset)
        return _parse(fh.readline().decode("utf-8", "replace"))


def hypernym_names(offset: int, depth: int) -> list[str]:
    """The first lemma of each hypernym up to ``depth`` levels, nearest first (the first
    parent at each level), e.g. tabby -> domestic cat, cat, feline."""
    out: list[str] = []
    cur = synset(offset)
    for _ in range(depth):
        if not cur.hypernyms:
            break
        cur = synset(cur.hypernyms[0])
        out.append(cur.lemmas[0])
    return out
