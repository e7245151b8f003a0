"""Full-text search over the ``texts`` table (SQLite FTS5 / PostgreSQL tsvector).

User input is never passed to the engines' query languages as is: it is split
into words (letters and digits; punctuation, quotes and operators are dropped) and
double-quoted phrases, and the engine query is built from those, so no input can
be a syntax error or an injected operator. Words are OR'ed; bm25 / ts_rank rank
rows matching more of them first. A word written with a trailing ``*`` is a prefix
(``walk*`` finds "walking"); otherwise SQLite matches Porter stems ("cars" finds
"car") and PostgreSQL (``simple`` configuration, language-neutral) whole words.
Automatic prefixes were left out on purpose: "bird" would rank "birdhouse" first.
Common English function words are dropped unless the query has nothing else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from assetdb.errors import QueryError

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TERM = re.compile(r"([^\W_]+)(\*?)", re.UNICODE)
_PHRASE = re.compile(r'"([^"]*)"')
# The Snowball English stop list (the one PostgreSQL's 'english' configuration uses):
# function words like "not", "what", "your" otherwise match any long text (a photo's
# copyright notice "may not be ...") and outrank the line that says the whole query.
# Quoted phrases keep every word.
STOPWORDS = frozenset(
    [
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
        "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers",
        "herself", "it", "its", "itself", "they", "them", "their", "theirs", "themselves",
        "what", "which", "who", "whom", "this", "that", "these", "those", "am", "is", "are",
        "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does",
        "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as", "until",
        "while", "of", "at", "by", "for", "with", "about", "against", "between", "into",
        "through", "during", "before", "after", "above", "below", "to", "from", "up", "down",
        "in", "out", "on", "off", "over", "under", "again", "further", "then", "once", "here",
        "there", "when", "where", "why", "how", "all", "any", "both", "each", "few", "more",
        "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so",
        "than", "too", "very", "s", "t", "can", "will", "just", "don", "should", "now", "onto"
    ]
)
MIN_PREFIX_CHARS = 2  # "a*" would match half the index
MAX_TERMS = 32


@dataclass
class FtsQuery:
    words: list[str] = field(default_factory=list)
    prefixes: set[str] = field(default_factory=set)  # words to match as prefixes
    phrases: list[list[str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases)


def parse(query: str) -> FtsQuery:
    phrases = []
    for m in _PHRASE.finditer(query):
        words = [w.lower() for w in _WORD.findall(m.group(1))]
        if len(words) > 1:
            phrases.append(words)
        elif words:
            pass  # a one-word "phrase" is a word, picked up below
    rest = _PHRASE.sub(lambda m: m.group(0) if len(_WORD.findall(m.group(1))) == 1 else " ", query)
    terms = [(w.lower(), star) for w, star in _TERM.findall(rest)]
    words = [w for w, _ in terms]
    prefixes = {w for w, star in terms if star and len(w) >= MIN_PREFIX_CHARS}
    content = [w for w in words if w not in STOPWORDS]
    words = content or words
    seen: list[str] = []
    for w in words:
        if w not in seen:
            seen.append(w)
    return FtsQuery(words=seen[:MAX_TERMS], prefixes=prefixes, phrases=phrases[:MAX_TERMS])


def _fts5_str(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def sqlite_match(q: FtsQuery) -> str:
    """An FTS5 MATCH expression: ``"walk"* OR "street" OR "big buck"``."""
    parts = [_fts5_str(w) + ("*" if w in q.prefixes else "") for w in q.words]
    parts += [_fts5_str(" ".join(p)) for p in q.phrases]
    return " OR ".join(parts)


def pg_tsquery(q: FtsQuery) -> str:
    """A to_tsquery('simple', ...) expression: ``'walk':* | 'street' | ('big' <-> 'buck')``."""

    def lexeme(w: str) -> str:
        return "'" + w.replace("'", "''").replace("\\", "\\\\") + "'"

    parts = [lexeme(w) + (":*" if w in q.prefixes else "") for w in q.words]
    parts += ["(" + " <-> ".join(lexeme(w) for w in p) + ")" for p in q.phrases]
    return " | ".join(parts)


@dataclass
class TextHit:
    text_id: int
    asset_id: int
    segment_id: int | None
    source: str
    score: float  # higher is better
    snippet: str
    text: str = ""


def search_texts(session: Session, query: str, *, limit: int = 500) -> list[TextHit]:
    """Rows of ``texts`` matching ``query``, best first."""
    q = parse(query)
    if not q:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        sql = text(
            "SELECT t.id, t.asset_id, t.segment_id, t.source, -bm25(texts_fts) AS score, "
            "snippet(texts_fts, 0, '[', ']', '…', 12) AS snip, t.text "
            "FROM texts_fts JOIN texts t ON t.id = texts_fts.rowid "
            "WHERE texts_fts MATCH :q ORDER BY bm25(texts_fts) LIMIT :n"
        )
        params = {"q": sqlite_match(q), "n": limit}
    elif dialect == "postgresql":
        sql = text(
            "SELECT t.id, t.asset_id, t.segment_id, t.source, "
            "ts_rank(t.tsv, to_tsquery('simple', :q)) AS score, "
            "ts_headline('simple', t.text, to_tsquery('simple', :q), "
            "'StartSel=[, StopSel=], MaxWords=20, MinWords=5') AS snip, t.text "
            "FROM texts t WHERE t.tsv @@ to_tsquery('simple', :q) "
            "ORDER BY score DESC, t.id LIMIT :n"
        )
        params = {"q": pg_tsquery(q), "n": limit}
    else:
        raise QueryError(f"full-text search is not available on {dialect}")
    try:
        rows = session.execute(sql, params).all()
    except Exception as exc:
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):
            msg = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            if "no such table" in msg or "does not exist" in msg:
                raise QueryError(
                    "full-text index missing; run `assetdb db upgrade`"
                ) from exc
            raise QueryError(f"full-text query failed: {msg}") from exc
        raise
    return [TextHit(r[0], r[1], r[2], r[3], float(r[4]), r[5] or "", r[6] or "") for r in rows]


# -- query coverage -------------------------------------------------------------------
# How much a text row says of the query, whatever its bm25: the IDF-weighted share of
# the query's content words it contains. One stray common word ("white" in a photo's
# EXIF for "old black and white film") covers little; every rare word covers all.
# Where the text came from weighs as much: a file name or an on-screen title that says
# the query is surer than a detector's label or a camera tag.
TEXT_SOURCE_WEIGHTS = {
    "persons": 1.0,  # names given by the user
    "filename": 0.9,
    "sidecar": 0.9,  # descriptions written by a person
    "transcript": 0.9,
    "ocr": 0.85,  # on-screen text, after the recogniser's own confidence filter
    "path": 0.6,  # folder names describe a collection, not the shot
    "objects": 0.6,  # a detector's class name, e.g. "person" on most shots
    "tags": 0.35,  # EXIF/container tags: camera settings ("white balance"), encoders
}
DEFAULT_TEXT_SOURCE_WEIGHT = 0.7
# relevance = source weight x coverage ** COVERAGE_POWER: half the query's information
# scores a quarter, so a partial match never outranks one that says it all
COVERAGE_POWER = 2.0


def stem(word: str) -> str:
    """A light English suffix strip, only to compare words ("cars" ~ "car",
    "walking" ~ "walk"); the engines match stems themselves."""
    w = word.lower()
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def document_frequencies(session: Session, words: list[str]) -> tuple[int, dict[str, int]]:
    """(number of text rows, rows containing each word)."""
    n = int(session.execute(text("SELECT count(*) FROM texts")).scalar() or 0)
    dialect = session.get_bind().dialect.name
    df: dict[str, int] = {}
    for w in words:
        if dialect == "sqlite":
            sql = text("SELECT count(*) FROM texts_fts WHERE texts_fts MATCH :q")
            q = _fts5_str(w)
        else:
            sql = text("SELECT count(*) FROM texts t WHERE t.tsv @@ to_tsquery('simple', :q)")
            q = "'" + w.replace("'", "''").replace("\\", "\\\\") + "'"
        try:
            df[w] = int(session.execute(sql, {"q": q}).scalar() or 0)
        except Exception:  # noqa: BLE001 - an unusual token: treat it as rare
            df[w] = 0
    return n, df


def idf_weights(session: Session, q: FtsQuery) -> dict[str, float]:
    words = list(dict.fromkeys(q.words + [w for p in q.phrases for w in p]))
    n, df = document_frequencies(session, words)
    return {w: math.log((n + 1) / (df.get(w, 0) + 0.5)) + 0.1 for w in words}


def coverage(q: FtsQuery, row_text: str, idf: dict[str, float]) -> float:
    """The IDF-weighted fraction of the query's words (and phrases) found in ``row_text``."""
    tokens = [t.lower() for t in _WORD.findall(row_text)]
    stems = {stem(t) for t in tokens}
    joined = " " + " ".join(tokens) + " "
    total = got = 0.0
    for w in q.words:
        weight = idf.get(w, 1.0)
        total += weight
        if w in q.prefixes:
            found = any(t.startswith(w) for t in tokens)
        else:
            found = stem(w) in stems
        got += weight if found else 0.0
    for p in q.phrases:
        weight = sum(idf.get(w, 1.0) for w in p)
        total += weight
        got += weight if (" " + " ".join(p) + " ") in joined else 0.0
    return got / total if total else 0.0


def text_relevance(hit: TextHit, q: FtsQuery, idf: dict[str, float]) -> float:
    w = TEXT_SOURCE_WEIGHTS.get(hit.source, DEFAULT_TEXT_SOURCE_WEIGHT)
    return w * coverage(q, hit.text or hit.snippet, idf) ** COVERAGE_POWER
