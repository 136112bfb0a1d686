"""E-mail normalisation: syntax, UID2 provider rules, placeholders."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.normalize import ColumnSource, InvalidValue, MissingValue, make_normalizer
from hashmatch.normalize._base import batch_path

SRC = ColumnSource(columns=("email",))
EMAIL = make_normalizer("email", {}, SRC)
RAW = make_normalizer("email", {"provider_rules": False}, SRC)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("  John.Doe@Example.co.uk ", "john.doe@example.co.uk"),
        ("John.Doe+news@gmail.com", "johndoe@gmail.com"),
        ("j.o.h.n.d.o.e@GoogleMail.com", "johndoe@gmail.com"),
        ("jane+tag@yahoo.com", "jane+tag@yahoo.com"),  # other providers unchanged
        ("jane.doe@outlook.com", "jane.doe@outlook.com"),
        ("mailto:Me@Firma.de", "me@firma.de"),
        ("o'brien@mail.ie", "o'brien@mail.ie"),
        ("a@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
    ],
)
def test_canonical_emails(raw: str, canonical: str) -> None:
    assert EMAIL(raw) == canonical


def test_provider_rules_can_be_switched_off() -> None:
    assert RAW("John.Doe+news@googlemail.com") == "john.doe+news@googlemail.com"


@pytest.mark.parametrize(
    "raw",
    [
        "bad@",
        "@x.com",
        "a@b",
        "a..b@x.com",
        ".a@x.com",
        "a@-x.com",
        "a b@x.com",
        "a@x.c0m",
        "ü@x.com",
        "John Doe <j@x.com>",
        "+@gmail.com",
        "x" * 65 + "@x.com",
    ],
)
def test_syntax_errors(raw: str) -> None:
    with pytest.raises(InvalidValue) as info:
        EMAIL(raw)
    assert info.value.reason == "email.syntax"


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ("noemail@acme.com", "no_email"),
        ("none@none.com", "no_email"),
        ("test@test.com", "no_email"),
        ("NoReply+x@shop.com", "no_email"),
        ("someone@example.com", "reserved_domain"),
        ("someone@mail.example.org", "reserved_domain"),
        ("a@b.invalid", "reserved_domain"),
        ("N/A", "na"),
    ],
)
def test_placeholders(raw: str, pattern: str) -> None:
    with pytest.raises(MissingValue) as info:
        EMAIL(raw)
    assert (info.value.reason, info.value.pattern) == ("placeholder", pattern)


emails = st.builds(
    "{}@{}.{}".format,
    st.text(alphabet="abcXYZ.+-_019", min_size=1, max_size=12),
    st.sampled_from(["gmail", "GoogleMail", "mail.example", "acme", "x-y"]),
    st.sampled_from(["com", "org", "de"]),
)


@given(st.one_of(emails, st.text(max_size=30)))
@example("X.+@gmail.com")  # canonical "x@gmail.com" is a placeholder: so is the raw one
def test_idempotent_and_only_outcome_exceptions(raw: str) -> None:
    for norm in (EMAIL, RAW):
        try:
            first = norm(raw)
        except (MissingValue, InvalidValue):
            continue
        assert norm(first) == first
        assert first == first.lower() and first.count("@") == 1


def _outcome(norm: object, raw: str) -> tuple[str, str]:
    try:
        return ("valid", norm(raw))  # type: ignore[operator]
    except (MissingValue, InvalidValue) as exc:
        return (type(exc).__name__, str(exc))


_BATCHED = [
    make_normalizer("email", opts, SRC, memo=False) for opts in ({}, {"provider_rules": False})
]
_PADDED = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", " ", "\t", "\u00a0", "mailto:", "MAILTO: "]),
    st.one_of(
        emails,
        st.builds(
            "{}@{}{}".format,
            st.text(alphabet="abnoxtes0.+-_'!@", min_size=0, max_size=10),
            st.text(alphabet="abexmpl0-.", min_size=0, max_size=14),
            st.sampled_from(["", ".com", ".test", ".xn--p1ai", ".xn--", ".c0m", ".example.org"]),
        ),
        st.text(max_size=30),
    ),
    st.sampled_from(["", " ", "\n", "\u3000"]),
)


@given(_PADDED)
@example("X.+@gmail.com")
@example("t@e.st")  # key "test": a placeholder of every type
@example("xxx@xx.xx")
@example("0@0.zz")
@example("a@b.c")  # a one-letter top-level label
@example("a" * 65 + "@b.com")
@example("a@" + "b" * 64 + ".com")
@example("a@b." + "c" * 64)
@example("noreply+a.b@gmail.com")
def test_batch_path_equals_the_normaliser(raw: str) -> None:
    """The compiled batch path settles a value only with the normaliser's own answer."""
    for norm in _BATCHED:
        batch = batch_path(norm)
        assert batch is not None
        got = batch([raw])[0]
        if got is not None:
            assert _outcome(norm, raw) == ("valid", got)


def test_batch_path_settles_the_usual_addresses() -> None:
    batch = batch_path(_BATCHED[0])
    assert batch is not None
    usual = [" John.Doe@Example.co.uk", "j.o.h.n+x@GoogleMail.com", "o'brien@mail.ie"]
    assert batch(usual) == ["john.doe@example.co.uk", "john@gmail.com", "o'brien@mail.ie"]
    left = ["mailto:me@firma.de", "noemail@acme.com", "a@b.invalid", "a..b@c.de", "N/A", ""]
    assert batch(left) == [None] * len(left)
