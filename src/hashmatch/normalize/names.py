"""Name normalisation: folding, titles, suffixes, particles, full-name splitting, nicknames.

Canonical form: lower-case ASCII letters and single spaces. The steps, in order:

1. fold (accents, ligatures, other scripts -> ASCII) and lower-case;
2. apostrophes join (``O'Brien`` -> ``obrien``), dots *inside* a word join (``Ph.D.`` ->
   ``phd``, ``J.R.R.`` -> ``jrr``), ordinals (``3rd``) go, every other non-letter
   (hyphen, comma, digit...) separates tokens;
3. leading titles (``Dr``, ``Mrs``...) and trailing suffixes (``Jr``, ``III``, ``PhD``...)
   are removed as whole tokens, but never the last remaining token (``Lord`` is a surname);
4. ``st``/``ste`` become ``saint``/``sainte``;
5. particles join the token that follows them: ``Van der Berg``, ``van der berg`` and
   ``Vanderberg`` all become ``vanderberg``; ``Mac Donald`` becomes ``macdonald``. Joining
   (rather than dropping) keeps the particle's evidence; it is done the same way for every
   party, so spacing habits stop mattering.

With a comma (or ``name_order="last_first"``) a full name is read as "Last, First Middle"
and put in "first middle last" order, so parties with different habits agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import (
    APOSTROPHES_RE,
    ColumnSource,
    InvalidValue,
    MissingValue,
    fold,
    read_data,
)

NameOrder = Literal["first_last", "last_first", "auto"]

_TITLES = frozenset(row[0] for row in read_data("titles.txt"))
_SUFFIXES = frozenset(row[0] for row in read_data("suffixes.txt"))
_PARTICLES = frozenset(row[0] for row in read_data("particles.txt"))
_REWRITES = {"st": "saint", "ste": "sainte"}
_NAME_PLACEHOLDERS = placeholders.table("name")

_INNER_DOT_RE = re.compile(r"(?<=[a-z])\.(?=[a-z])")
_ORDINAL_RE = re.compile(r"\b\d+(?:st|nd|rd|th)\b")
_HYPHEN_RE = re.compile(r"(?<=[a-z])\s*-+\s*(?=[a-z])")
_NON_LETTER_RE = re.compile(r"[^a-z,_]+")


@dataclass(frozen=True)
class FullName:
    """The canonical parts of a full name; a part the value does not have is None."""

    first: str | None
    middle: str | None
    last: str | None


def _folded(raw: str) -> str:
    """Fold and check for empty/placeholder values (raises MissingValue)."""
    folded = fold(raw.strip())
    placeholders.check(folded, _NAME_PLACEHOLDERS)
    return folded


def _segments(folded: str, units: bool = True) -> list[list[str]]:
    """Comma-separated segments of a folded name, each a list of letter tokens.

    With ``units``, hyphenated names stay one token (written with "_") for splitting.
    """
    if folded.isalpha() and folded.isascii():  # the common case: one plain word
        return [[folded]]
    text = APOSTROPHES_RE.sub("", folded.replace("_", " "))
    text = _INNER_DOT_RE.sub("", text)
    text = _ORDINAL_RE.sub(" ", text)
    # a hyphenated name is one unit for splitting ("O'Brien-Smith" is a surname), written
    # "_" until the end, where it becomes a space like any other separator
    if units:
        text = _HYPHEN_RE.sub("_", text)
    text = _NON_LETTER_RE.sub(" ", text)
    segments = [[tok for tok in seg.split() if tok.strip("_")] for seg in text.split(",")]
    segments = [seg for seg in segments if seg]
    # "Smith, John, Jr." / "John Smith, PhD": a trailing segment of suffixes is no name part.
    while len(segments) > 1 and all(tok in _SUFFIXES for tok in segments[-1]):
        segments.pop()
    return segments


def _strip_affixes(tokens: list[str]) -> list[str]:
    """Drop leading titles and trailing suffixes, never the last remaining token."""
    start, end = 0, len(tokens)
    while end - start > 1 and tokens[start] in _TITLES:
        start += 1
    while end - start > 1 and tokens[end - 1] in _SUFFIXES:
        end -= 1
    return tokens[start:end]


def _join_particles(tokens: list[str]) -> list[str]:
    """Join each run of particles to the token after it ("van der berg" -> "vanderberg").

    Hyphenated units ("van_der_berg") are joined inside first and then spelt with spaces.
    """
    out: list[str] = []
    run: list[str] = []
    for tok in tokens:
        if "_" in tok:
            tok = " ".join(_join_particles([t for t in tok.split("_") if t]))
        tok = _REWRITES.get(tok, tok)
        if tok in _PARTICLES:
            run.append(tok)
            continue
        if run:
            tok = "".join(run) + tok
            run = []
        if tok in _PARTICLES:  # a join that is a particle ("de" + "l"): join on, idempotently
            run.append(tok)
        else:
            out.append(tok)
    out.extend(run)  # a trailing run has nothing to join: its tokens stay as they are
    return out


def _trailing_particles(tokens: list[str]) -> int:
    n = 0
    while n < len(tokens) and _REWRITES.get(tokens[-1 - n], tokens[-1 - n]) in _PARTICLES:
        n += 1
    return n


def _leading_particles(tokens: list[str]) -> int:
    """Length of the particle run that opens ``tokens`` (at most len - 1)."""
    n = 0
    while n < len(tokens) - 1 and _REWRITES.get(tokens[n], tokens[n]) in _PARTICLES:
        n += 1
    return n


def _split_tokens(
    segments: list[list[str]], order: NameOrder
) -> tuple[list[str], list[str], list[str]]:
    """(first, middle, last) token lists of a full name, affixes already stripped."""
    if order == "auto":
        order = "last_first" if len(segments) > 1 else "first_last"
    if order == "last_first":
        if len(segments) > 1:
            last = _strip_affixes(segments[0])
            given = _strip_affixes([tok for seg in segments[1:] for tok in seg])
            # Dutch/German sorting form "Berg, Jan van der": trailing particles are the surname's.
            n = _trailing_particles(given)
            if 0 < n < len(given):
                last, given = given[-n:] + last, given[:-n]
        else:
            tokens = _strip_affixes(segments[0])
            cut = _leading_particles(tokens) + 1
            last, given = tokens[:cut], tokens[cut:]
        return given[:1], given[1:], last
    tokens = _strip_affixes([tok for seg in segments for tok in seg])
    if len(tokens) == 1:
        return tokens, [], []
    rest = tokens[1:]
    start = len(rest) - 1
    while start > 0 and _REWRITES.get(rest[start - 1], rest[start - 1]) in _PARTICLES:
        start -= 1
    return tokens[:1], rest[:start], rest[start:]


def _canonical(tokens: list[str]) -> str | None:
    return " ".join(_join_particles(tokens)) or None


def split_full_name(raw: str, order: NameOrder = "auto") -> FullName:
    """Split a full name into canonical first, middle and last names.

    ``order``: ``"first_last"`` ("John A. Smith"), ``"last_first"`` ("Smith, John A." or
    "Smith John A"), or ``"auto"`` (last_first when the value has a comma).
    A single-token name is a first name in first_last order and a last name otherwise.

    Raises ``MissingValue`` (empty, placeholder) or ``InvalidValue("name.no_letters")``.

    >>> split_full_name("  DR. José  O'Brien-Smith Jr. ")
    FullName(first='jose', middle=None, last='obrien smith')
    >>> split_full_name("van der Berg, Jan Pieter")
    FullName(first='jan', middle='pieter', last='vanderberg')
    """
    return _split(_folded(raw), order)


def _split(folded: str, order: NameOrder) -> FullName:
    segments = _segments(folded)
    if not segments:
        raise InvalidValue("name.no_letters")
    first, middle, last = _split_tokens(segments, order)
    return FullName(_canonical(first), _canonical(middle), _canonical(last))


def _canonical_name(folded: str, order: NameOrder) -> str:
    # Hyphens separate like spaces here (the canonical form has no units to remember, so
    # "Mr-X" must be read as "mr x" now, as it will be when normalised again), except
    # where they tell which tokens make the leading surname of "Smith-Jones John".
    segments = _segments(folded, units=order == "last_first")
    if not segments:
        raise InvalidValue("name.no_letters")
    if len(segments) == 1 and order != "last_first":
        tokens = _strip_affixes(segments[0])
    else:  # a full name in "Last, First" form: put it in "First Middle Last" order
        first, middle, last = _split_tokens(segments, order)
        # stripped again as a whole, so that the result is its own canonical form
        tokens = _strip_affixes(first + middle + last)
    return " ".join(_join_particles(tokens))


@cache
def nickname_table() -> Mapping[str, str]:
    """Nickname -> one canonical given name, from the ``nicknames`` package (Apache-2.0).

    The data is a graph (``william`` has nickname ``bill``, and so on, with chains and
    ambiguities: ``bill`` is listed under robert, will, william and willis). Resolution:

    * names in ``data/common_given_names.txt`` are canonical and never mapped;
    * a nickname goes to one of the names it is listed under: common names first, then
      the most similar spelling (``difflib`` ratio: ``bill`` -> ``william`` rather than
      ``robert``), then the more common name, then alphabetical order;
    * the step repeats until a canonical name is reached (``billy`` -> ``bill`` ->
      ``william``), so the result never maps again and the normaliser is idempotent;
    * ``data/nickname_overrides.csv`` fixes the few readings the rule gets wrong
      (``jack`` -> ``john``, ``liz`` -> ``elizabeth``); its targets are canonical names.
    """
    import difflib

    from nicknames import NickNamer

    common = [row[0] for row in read_data("common_given_names.txt")]
    rank = {name: i for i, name in enumerate(common)}
    canonicals_of = {
        nick: {c for c in cands if c.isalpha()}
        for nick, cands in NickNamer().canonical_lookup.items()
        if nick.isalpha()
    }

    @cache  # chains pass through the same names again
    def best(nick: str) -> str | None:
        cands = canonicals_of.get(nick)
        if not cands or nick in rank:
            return None
        # Common names first; the similarity (slow: every run pays it at start-up) only
        # when more than one candidate is left to choose from.
        pool = [c for c in cands if c in rank] or list(cands)
        if len(pool) == 1:
            return pool[0]
        return min(
            pool,
            key=lambda c: (-difflib.SequenceMatcher(None, nick, c).ratio(), rank.get(c, 0), c),
        )

    def root(nick: str) -> str:
        path = [nick]
        while (nxt := best(path[-1])) is not None:
            if nxt in path:  # a cycle (allan <-> allen): one fixed member stands for all
                cycle = path[path.index(nxt) :]
                return min(cycle, key=lambda c: (c not in rank, rank.get(c, 0), c))
            path.append(nxt)
        return path[-1]

    table = {nick: root(nick) for nick in canonicals_of}
    table.update(read_data("nickname_overrides.csv"))  # type: ignore[arg-type]
    for nick, target in table.items():  # a cycle's stand-in may be another key's target
        table[nick] = table.get(target, target)
    # Particles, titles and suffixes keep their meaning ("van" is no nickname of sullivan
    # in "van der berg"), and a name never becomes one.
    affixes = _PARTICLES | _TITLES | _SUFFIXES | _REWRITES.keys()
    return {
        nick: target
        for nick, target in table.items()
        if nick != target and nick not in affixes and target not in affixes
    }


def _with_nicknames(canonical: str, table: Mapping[str, str]) -> str:
    tokens = canonical.split(" ")
    return " ".join([table.get(tok, tok) for tok in tokens])


def make_name_normalizer(options: Mapping[str, Any], source: ColumnSource) -> Callable[[str], str]:
    """The normaliser of a ``name`` field (see the module docstring for the rules)."""
    nicknames = nickname_table() if options.get("nicknames", False) else None
    order: NameOrder = source.name_order
    part = source.part
    check = placeholders.check
    safe = placeholders.safe_starts(_NAME_PLACEHOLDERS)
    rewrite = _REWRITES.get

    def normalize_name(raw: str) -> str:
        folded = raw.strip()
        folded = folded.lower() if folded.isascii() else fold(folded)
        if folded[:2] not in safe:  # inline pre-check: most values need no check() call
            check(folded, _NAME_PLACEHOLDERS)
        if part is None and folded.isalpha() and folded.isascii():
            # One plain word: no affix is stripped from a lone token and a lone particle
            # stays as it is, so _canonical_name would only apply the st/ste rewrite.
            canonical = rewrite(folded, folded)
        elif part is None:
            canonical = _canonical_name(folded, order)
        else:
            found = getattr(_split(folded, order), part)
            if found is None:
                raise MissingValue("empty")
            canonical = found
        if nicknames is not None:
            canonical = _with_nicknames(canonical, nicknames)
        # Titles/suffixes removed may reveal a placeholder ("Mr Unknown"): catch it now so
        # that normalising a canonical value never changes the outcome.
        if canonical[:2] not in safe:
            check(canonical, _NAME_PLACEHOLDERS)
        return canonical

    return normalize_name
