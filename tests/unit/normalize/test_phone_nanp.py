"""The North American phone fast path says exactly what ``phonenumbers`` says.

The oracle is ``phonenumbers`` itself (parse, is_valid_number, E.164), asked for every
generated number; the fast path keeps its prefix memo across examples, so remembered
answers are checked as much as fresh ones.
"""

from __future__ import annotations

import itertools
import random
import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from hashmatch.encode.features import phone_features, qgrams
from hashmatch.normalize import ColumnSource, InvalidValue, MissingValue, make_normalizer
from hashmatch.normalize._base import batch_path
from hashmatch.normalize._digit_patterns import DigitPattern, PatternSet, UnsupportedPattern
from hashmatch.normalize.phone_nanp import NanpNumbers, _plan

REGIONS = [*COUNTRY_CODE_TO_REGION_CODE[1], "GB", "DE", None]
_FAST: dict[str | None, NanpNumbers] = {}  # one per region, memo kept across examples

SHAPES = [
    "({a}) {e}-{l}",
    "({a}){e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "{a} {e} {l}",
    "{a}{e}{l}",
    "+1{a}{e}{l}",
    "+1 {a} {e} {l}",
    "+1-{a}-{e}-{l}",
    "+1 ({a}) {e}-{l}",
    "+1.{a}.{e}.{l}",
    # not fast-path shapes: must be left to phonenumbers (None)
    "1-{a}-{e}-{l}",
    "1{a}{e}{l}",
    "{a}-{e}-{l} x12",
    "+44 {a} {e} {l}",
    "({a} {e}-{l}",
    "{a}--{e}-{l}",
]


def _oracle(text: str, region: str | None) -> str:
    """What the normaliser's general path makes of ``text`` (already folded, stripped)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "unparseable"
    if not phonenumbers.is_valid_number(number):
        return "invalid"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _fast(text: str, region: str | None) -> str | None:
    fast = _FAST.setdefault(region, NanpNumbers(region))
    try:
        return fast.e164(text)
    except InvalidValue as exc:
        assert exc.reason == "phone.invalid"
        return "invalid"


def _number(area: str, exchange: str, line: str, shape: str) -> str:
    return shape.format(a=area, e=exchange, l=line)


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@given(
    area=st.text(alphabet="0123456789", min_size=3, max_size=3),
    exchange=st.text(alphabet="0123456789", min_size=3, max_size=3),
    line=st.text(alphabet="0123456789", min_size=4, max_size=4),
    shape=st.sampled_from(SHAPES),
    region=st.sampled_from(REGIONS),
)
def test_fast_path_equals_phonenumbers(
    area: str, exchange: str, line: str, shape: str, region: str | None
) -> None:
    text = _number(area, exchange, line, shape)
    got = _fast(text, region)
    if got is not None:  # None: left to phonenumbers, which then decides alone
        assert got == _oracle(text, region)


def test_many_numbers_with_a_warm_memo_equal_phonenumbers() -> None:
    """Thousands of numbers over a few area codes (as real files have): most answers
    come from the prefix memo, and all must be phonenumbers' own."""
    rng = random.Random(14)
    fast = NanpNumbers("US")
    areas = [f"{rng.randint(200, 999)}" for _ in range(12)] + ["555", "800", "900", "268"]
    checked = from_fast = 0
    for _ in range(3000):
        area = rng.choice(areas)
        exchange, line = f"{rng.randint(0, 999):03d}", f"{rng.randint(0, 9999):04d}"
        text = _number(area, exchange, line, rng.choice(SHAPES[:11]))
        try:
            got = fast.e164(text)
        except InvalidValue:
            got = "invalid"
        if area[0] in "23456789":
            assert got is not None  # every shape above with a 2-9 area takes the fast path
        if got is not None:
            from_fast += 1
            assert got == _oracle(text, "US"), text
        checked += 1
    assert from_fast == checked


def test_fast_path_shapes_only() -> None:
    fast = NanpNumbers("US")
    for text in ("1-206-555-0123", "206-555-0123 ext 4", "+44 20 7946 0958", "(206 555-0123"):
        assert fast.e164(text) is None
    assert NanpNumbers(None).e164("206-555-0123") is None  # no region: no national numbers
    assert NanpNumbers("AG").e164("268-555-0123") is None  # reads 7-digit local numbers too
    assert NanpNumbers(None).e164("+1 206 555 0123") == _oracle("+1 206 555 0123", None)


def test_normaliser_outcomes_are_unchanged_by_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole normaliser (folding, placeholders, region check) with and without it."""
    rng = random.Random(5)
    raws = [
        _number(f"{rng.randint(100, 999)}", f"{rng.randint(0, 999):03d}",
                f"{rng.randint(0, 9999):04d}", rng.choice(SHAPES))
        for _ in range(400)
    ]
    raws += ["  (206) 555-0123  ", "(000) 000-0000", "123-456-7890", "", "n/a"]
    raws += ["+1 \uff12\uff10\uff16 555 0123"]  # full-width digits fold to ASCII
    source = ColumnSource(columns=("phone",), phone_region="US")

    def outcomes() -> list[tuple[str, str | None]]:
        norm = make_normalizer("phone", {}, source, memo=False)
        found = []
        for raw in raws:
            try:
                found.append(("valid", norm(raw)))
            except (MissingValue, InvalidValue) as exc:
                found.append((type(exc).__name__, str(exc)))
        return found

    with_fast = outcomes()
    monkeypatch.setattr(NanpNumbers, "e164", lambda self, text: None)
    assert with_fast == outcomes()


_BATCH_NORMALIZERS: dict[str | None, object] = {}  # one per region, memo kept


def _outcome(norm, raw: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    try:
        return ("valid", norm(raw))
    except (MissingValue, InvalidValue) as exc:
        return (type(exc).__name__, str(exc))


_PADDING = st.sampled_from(["", " ", "  ", "\t", "\u00a0", "\x1c", "\n "])


@given(
    area=st.text(alphabet="0123456789", min_size=3, max_size=3),
    exchange=st.text(alphabet="0123456789", min_size=3, max_size=3),
    line=st.text(alphabet="0123456789", min_size=4, max_size=4),
    shape=st.sampled_from([*SHAPES, "{a}{a}{a}{a}", "+1{l}{e}{a}", "{a}  {e}-{l}"]),
    region=st.sampled_from(REGIONS),
    left=_PADDING,
    right=_PADDING,
)
def test_batch_path_equals_the_normaliser(
    area: str, exchange: str, line: str, shape: str, region: str | None, left: str, right: str
) -> None:
    """The compiled batch path (``_shapes.nanp_e164``) settles a value only with the
    normaliser's own answer: repeated digits, sequences, other shapes, invalid numbers
    and odd padding are left to it (None). The normaliser's memo is kept across examples,
    so settled answers come from remembered prefixes as in a real run."""
    if region not in _BATCH_NORMALIZERS:
        source = ColumnSource(columns=("phone",), phone_region=region)
        _BATCH_NORMALIZERS[region] = make_normalizer("phone", {}, source, memo=False)
    norm = _BATCH_NORMALIZERS[region]
    batch = batch_path(norm)  # type: ignore[arg-type]
    assert batch is not None
    raw = left + _number(area, exchange, line, shape) + right
    expected = _outcome(norm, raw)  # first: it teaches the memo this number's prefix
    settled = batch([raw, raw])
    for got in settled:
        if got is not None:
            assert expected == ("valid", got), raw


def test_batch_path_settles_the_usual_numbers_and_nothing_else() -> None:
    source = ColumnSource(columns=("phone",), phone_region="US")
    norm = make_normalizer("phone", {}, source, memo=False)
    batch = batch_path(norm)
    assert batch is not None
    usual = ["(206) 555-0123", " 206.555.0124 ", "+1 206 555 0125", "2065550126", "+12065550127"]
    assert batch(usual) == [None] * len(usual)  # nothing remembered yet: the normaliser
    assert [norm(raw) for raw in usual] == [f"+120655501{i}" for i in range(23, 28)]
    assert batch(usual) == [f"+120655501{i}" for i in range(23, 28)]
    others = [
        "(888) 888-8888",  # every digit alike: a placeholder (888 888 88xx are valid)
        "(212) 345-6789",  # the digits end in 123456789: a placeholder sequence
        "+1 987 654 3210",  # the same, from the other end
        "206-555-0123 x4",
        "1-206-555-0123",
        "\uff12\uff10\uff16-555-0123",  # full-width digits: not ASCII
        "",
        "n/a",
        "(206) 555-01234",
        "(206)-555--0123",
    ]
    for raw in [*others, "(212) 345-6700", "(888) 888-8800", "(987) 654-3200"]:
        _outcome(norm, raw)  # whatever the normaliser learns, these stay its own
    for raw, got in zip(others, batch(others), strict=True):
        assert got is None, raw
    assert batch_path(make_normalizer("phone", {}, source)) is None  # memoised: none


@given(national=st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_phone_features_fast_path_equals_parsing(national: str) -> None:
    canonical = "+1" + national
    got = phone_features(canonical, 2, True)
    try:
        number = phonenumbers.parse(canonical, None)
    except phonenumbers.NumberParseException:
        expected = qgrams("".join(ch for ch in canonical if ch.isdigit()), 2, True)
    else:
        nsn = phonenumbers.national_significant_number(number)
        expected = (f"cc:{number.country_code}", *qgrams(nsn, 2, True))
    assert got == expected


# -- the automata: same answers as the re module, and exact prefix decisions -------------

SMALL_PATTERNS = [
    r"[2-9]\d{2}",
    r"1(?:2|34)\d?",
    r"(?:5\d|6)\d*",
    r"0(?:1[02-9]|2)|3\d{1,2}",
    r"\d{2}(?:7|8[0-4])?",
    r"(?:2[0-35-9]|4)\d{2,3}",
]


@given(
    pattern=st.sampled_from(SMALL_PATTERNS),
    prefix_match=st.booleans(),
    text=st.text(alphabet="0123456789", max_size=6),
)
def test_automaton_matches_like_re(pattern: str, prefix_match: bool, text: str) -> None:
    automaton = DigitPattern(pattern, prefix_match=prefix_match)
    expected = re.match(pattern, text) if prefix_match else re.fullmatch(pattern, text)
    assert automaton.matches(text) == (expected is not None)


@given(
    pattern=st.sampled_from(SMALL_PATTERNS),
    prefix_match=st.booleans(),
    prefix=st.text(alphabet="0123456789", max_size=3),
    more=st.integers(min_value=0, max_value=3),
)
def test_decided_is_what_every_completion_says(
    pattern: str, prefix_match: bool, prefix: str, more: int
) -> None:
    automaton = DigitPattern(pattern, prefix_match=prefix_match)
    search = re.match if prefix_match else re.fullmatch
    answers = {
        search(pattern, prefix + "".join(tail)) is not None
        for tail in itertools.product("0123456789", repeat=more)
    }
    decided = automaton.decided(prefix, len(prefix) + more)
    assert decided == (answers.pop() if len(answers) == 1 else None)


def test_metadata_patterns_match_like_re() -> None:
    plan = _plan()
    assert plan is not None
    rng = random.Random(3)
    samples = ["".join(rng.choice("0123456789") for _ in range(10)) for _ in range(300)]
    samples += [f"{a}{rng.randint(0, 9999999):07d}" for a in ("268", "876", "809", "206")]
    for automaton in plan.patterns:
        search = re.match if automaton.prefix_match else re.fullmatch
        for text in samples:
            assert automaton.matches(text) == (search(automaton.pattern, text) is not None)


def test_a_deciding_prefix_decides_every_pattern() -> None:
    plan = _plan()
    assert plan is not None
    for digits in ("2065550123", "2685550123", "8005550123", "5555550123"):
        length = plan.deciding_length(digits)
        assert all(p.decided(digits[:length], 10) is not None for p in plan.patterns)
        if length > plan.shortest:
            shorter = digits[: length - 1]
            assert any(p.decided(shorter, 10) is None for p in plan.patterns)


def test_unsupported_constructs_are_refused() -> None:
    for pattern in (r"^\d", r"\d(?=1)", r"(\d)\1", r"[^1]"):
        with pytest.raises(UnsupportedPattern):
            DigitPattern(pattern)
    assert isinstance(PatternSet([], 3).deciding_length("2065550123"), int)
