"""The fast start-of-value pre-check of ``placeholder_rule`` never changes its answer."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import placeholders
from hashmatch.normalize.names import _NAME_PLACEHOLDERS


def _reference(folded: str, extra: dict[str, str] | None) -> str | None:
    """The rule as documented, computed the long way (always building the key)."""
    if len(folded) > 3 * placeholders._MAX_KEY:
        return None
    plain = folded.isalnum() and folded.isascii()
    key = folded if plain else re.sub(r"[^a-z0-9]+", "", folded)
    if not key:
        return "punctuation"
    if len(key) > placeholders._MAX_KEY:
        return None
    rule = placeholders._ANY.get(key) or (extra or {}).get(key)
    if rule is not None:
        return rule
    if not key.strip("0"):
        return "zeros"
    if len(key) >= 3 and not key.strip("x"):
        return "xxx"
    return None


_KEYS = sorted({*placeholders._ANY, *_NAME_PLACEHOLDERS})
_VALUES = st.one_of(
    st.text(alphabet="abjnoux0 -./'AéX", max_size=12),
    st.builds(
        lambda k, pre, post: pre + k + post,
        st.sampled_from(_KEYS),
        st.sampled_from(["", " ", "-", "A", "é"]),
        st.sampled_from(["", ".", " x"]),
    ),
)


@given(_VALUES, st.sampled_from([None, _NAME_PLACEHOLDERS]))
def test_precheck_agrees_with_the_full_rule(folded: str, extra: dict[str, str] | None) -> None:
    assert placeholders.placeholder_rule(folded, extra) == _reference(folded, extra)


def test_every_table_key_is_still_found() -> None:
    for key in _KEYS:
        extra = _NAME_PLACEHOLDERS if key in _NAME_PLACEHOLDERS else None
        assert placeholders.placeholder_rule(key, extra) is not None
    assert placeholders.placeholder_rule("smith") is None
    assert placeholders.placeholder_rule("00-00") == "zeros"
    assert placeholders.placeholder_rule("xxxx") == "xxx"
