"""Regular expressions over decimal digits as automata: which prefixes decide a match.

``phonenumbers`` decides whether a number is valid by matching its digits against the
patterns of its metadata (``[2-9]\\d{9}``, ``(?:2(?:0[1-35-9]|1[02-9])|...)[2-9]\\d{6}``...).
Whether a pattern matches a string of ``length`` digits starting with ``prefix`` is often
already decided by the prefix: every completion matches, or none does. This module
compiles such a pattern (Python ``re`` syntax: literals, classes, alternation, groups,
bounded or unbounded repeats; anything else is refused) into a nondeterministic automaton
over the ten digits and answers that question exactly, by following every completion
(:meth:`DigitPattern.decided`). A caller may then evaluate the matches once per prefix
instead of once per string (:mod:`hashmatch.normalize.phone_nanp`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

try:  # Python 3.11+: the parser moved under re
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants
    import sre_parse

DIGITS = "0123456789"
_ALL = frozenset(DIGITS)


class UnsupportedPattern(ValueError):
    """The pattern uses a construct this module does not model (anchors, look-arounds...)."""


class DigitPattern:
    """One regular expression as an automaton over the digits ``0-9``.

    ``prefix_match`` models ``re.match`` (some prefix of the string is in the language:
    ``leading_digits`` in phonenumbers); otherwise ``re.fullmatch``.
    """

    def __init__(self, pattern: str, *, prefix_match: bool = False) -> None:
        self.pattern = pattern
        self.prefix_match = prefix_match
        self._eps: list[list[int]] = []
        self._edges: list[list[tuple[frozenset[str], int]]] = []
        self._start = self._state()
        self._accept = self._build(sre_parse.parse(pattern), self._start)
        self._sets: list[frozenset[int]] = []  # deterministic state id -> its NFA states
        self._ids: dict[frozenset[int], int] = {}
        self._next: list[list[int] | None] = []
        self._outcome_memo: dict[tuple[int, int], int] = {}
        self._initial = self._intern({self._start})

    # -- construction (Thompson) -----------------------------------------------------

    def _state(self) -> int:
        self._eps.append([])
        self._edges.append([])
        return len(self._eps) - 1

    def _edge(self, source: int, chars: frozenset[str]) -> int:
        target = self._state()
        self._edges[source].append((chars, target))
        return target

    def _build(self, items: Iterable[tuple[Any, Any]], state: int) -> int:
        """States for ``items`` from ``state``; returns the state after them."""
        c = sre_constants
        for op, av in items:
            if op is c.LITERAL:
                state = self._edge(state, frozenset({chr(av)}) & _ALL)
            elif op is c.IN:
                state = self._edge(state, _charset(av))
            elif op is c.SUBPATTERN:
                state = self._build(av[3], state)
            elif op is c.BRANCH:
                end = self._state()
                for alternative in av[1]:
                    self._eps[self._build(alternative, state)].append(end)
                state = end
            elif op is c.MAX_REPEAT or op is c.MIN_REPEAT:  # lazy or not: same language
                low, high, body = av
                for _ in range(low):
                    state = self._build(body, state)
                if high is c.MAXREPEAT:
                    loop = self._state()
                    self._eps[state].append(loop)
                    self._eps[self._build(body, loop)].append(loop)
                    state = loop
                else:
                    end = self._state()
                    for _ in range(high - low):
                        self._eps[state].append(end)
                        state = self._build(body, state)
                    self._eps[state].append(end)
                    state = end
            else:
                msg = f"unsupported regular expression construct {op}"
                raise UnsupportedPattern(msg)
        return state

    # -- simulation: a deterministic automaton, built lazily on the state sets met -------

    def _intern(self, states: set[int]) -> int:
        """The id of the deterministic state for ``states`` (closed under epsilon)."""
        stack = list(states)
        while stack:
            for nxt in self._eps[stack.pop()]:
                if nxt not in states:
                    states.add(nxt)
                    stack.append(nxt)
        key = frozenset(states)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._sets)
            self._sets.append(key)
            self._next.append(None)
        return found

    def _successors(self, state: int) -> list[int]:
        """The state after each digit ``0``-``9``. With ``prefix_match`` an accepting state
        is absorbing: once a prefix matched, the string matches."""
        found = self._next[state]
        if found is None:
            states = self._sets[state]
            if self.prefix_match and self._accept in states:
                found = [state] * 10
            else:
                found = [
                    self._intern({t for s in states for chars, t in self._edges[s] if d in chars})
                    for d in DIGITS
                ]
            self._next[state] = found
        return found

    def _outcomes(self, state: int, remaining: int) -> int:
        """Whether the match succeeds over every string of ``remaining`` more digits read
        from ``state``: a bit mask, 1 when one fails, 2 when one matches."""
        key = (state, remaining)
        found = self._outcome_memo.get(key)
        if found is None:
            if remaining == 0 or not self._sets[state]:
                found = 2 if self._accept in self._sets[state] else 1
            elif self.prefix_match and self._accept in self._sets[state]:
                found = 2
            else:
                found = 0
                for nxt in self._successors(state):
                    found |= self._outcomes(nxt, remaining - 1)
                    if found == 3:
                        break
            self._outcome_memo[key] = found
        return found

    def _after(self, prefix: str) -> int:
        state = self._initial
        for digit in prefix:
            state = self._successors(state)[ord(digit) - 48]
        return state

    def matches(self, text: str) -> bool:
        """What ``re.fullmatch`` (``re.match`` with ``prefix_match``) says of ``text``."""
        if text.strip(DIGITS):
            msg = "only strings of ASCII digits are modelled"
            raise ValueError(msg)
        return self._accept in self._sets[self._after(text)]

    def decided(self, prefix: str, length: int) -> bool | None:
        """True when every string of ``length`` digits starting with ``prefix`` matches,
        False when none does, None when it depends on the digits after the prefix."""
        if prefix.strip(DIGITS) or len(prefix) > length:
            msg = "the prefix must be ASCII digits, no longer than the strings"
            raise ValueError(msg)
        outcomes = self._outcomes(self._after(prefix), length - len(prefix))
        return None if outcomes == 3 else outcomes == 2


class PatternSet:
    """Several patterns read together: the shortest prefix of a string that decides all."""

    def __init__(self, patterns: Sequence[DigitPattern], shortest: int = 0) -> None:
        self.patterns = list(patterns)
        self.shortest = shortest
        #: (first ``shortest`` digits, length) -> the states there and the undecided
        #: patterns: strings sharing their start (an area code) skip reading it again.
        self._starts: dict[tuple[str, int], tuple[list[int], list[int]]] = {}

    def deciding_length(self, digits: str) -> int:
        """The length of the shortest prefix of ``digits`` (at least ``shortest``) that
        decides every pattern for strings as long as ``digits`` (see
        :meth:`DigitPattern.decided`)."""
        if digits.strip(DIGITS):
            msg = "only strings of ASCII digits are modelled"
            raise ValueError(msg)
        length, patterns = len(digits), self.patterns
        start = min(self.shortest, length)
        key = (digits[:start], length)
        found = self._starts.get(key)
        if found is None:
            states = [p._after(digits[:start]) for p in patterns]
            undecided = [
                i for i, p in enumerate(patterns) if p._outcomes(states[i], length - start) == 3
            ]
            found = self._starts[key] = (states, undecided)
        states, undecided = list(found[0]), found[1]
        for read in range(start, length + 1):
            if read > start:
                digit = ord(digits[read - 1]) - 48
                for i in undecided:
                    states[i] = patterns[i]._successors(states[i])[digit]
                undecided = [
                    i for i in undecided if patterns[i]._outcomes(states[i], length - read) == 3
                ]
            if not undecided:
                return read
        return length  # pragma: no cover - a whole string leaves nothing undecided


def _charset(items: Iterable[tuple[Any, Any]]) -> frozenset[str]:
    c = sre_constants
    chars: set[str] = set()
    for op, av in items:
        if op is c.LITERAL:
            chars.add(chr(av))
        elif op is c.RANGE:
            low, high = av
            chars.update(chr(i) for i in range(low, high + 1))
        elif op is c.CATEGORY and av is c.CATEGORY_DIGIT:
            chars.update(DIGITS)
        else:
            msg = f"unsupported character class item {op} {av}"
            raise UnsupportedPattern(msg)
    return frozenset(chars) & _ALL
