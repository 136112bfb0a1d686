"""The public contract of hashmatch.normalize: factory, options, reasons, privacy."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import (
    OPTION_SPECS,
    REASONS,
    ColumnSource,
    InvalidValue,
    MissingValue,
    OptionSpec,
    make_normalizer,
)
from hashmatch.schema.model import FIELD_TYPES

SRC = ColumnSource(("c",), phone_region="US", date_formats=("%m/%d/%Y", "%Y"))
ALL = {t: make_normalizer(t, {}, SRC) for t in FIELD_TYPES}
NAME_PARTS = [
    make_normalizer("name", {"nicknames": True}, ColumnSource(("c",), part=p))
    for p in ("first", "middle", "last")
]

# PII-like raw values that end as missing or invalid. (Placeholder words such as
# "unknown" are left out: the rule that names them is spelt the same, by design.)
BAD_VALUES = {
    "name": ["12345 6789", "4711-0815"],
    "email": ["jane.secretive@", "jane.secretive@example.com", "noemail@secretive.org"],
    "phone": ["555-0199-12345678", "(650) 999-99", "call 650 not", "1234567890"],
    "date": ["02/31/1987", "1987-05-06", "9999", "1777", "12/12/2999"],
    "postcode": ["Secretville", "SW1A#1AA"],
    "address": ["----", "xxxxxxxx"],
    "gender": ["femaleish", "Secretive"],
    "text": ["000-000-000"],
    "id": ["00000000"],
}


def test_option_specs_cover_every_type() -> None:
    assert set(OPTION_SPECS) == set(FIELD_TYPES)
    for specs in OPTION_SPECS.values():
        for spec in specs.values():
            assert isinstance(spec, OptionSpec)
            assert isinstance(spec.default, spec.kind) and spec.help


def test_defaults_are_documented_values() -> None:
    assert OPTION_SPECS["name"]["nicknames"].default is False
    assert OPTION_SPECS["email"]["provider_rules"].default is True
    assert OPTION_SPECS["date"]["earliest"].default == "1900-01-01"
    assert OPTION_SPECS["date"]["latest"].default == "today"


@pytest.mark.parametrize(
    ("field_type", "options", "message"),
    [
        ("colour", {}, "unknown field type"),
        ("name", {"nickname": True}, "unknown option"),
        ("name", {"nicknames": "yes"}, "must be bool"),
        ("postcode", {"zip5": 1}, "must be bool"),
        ("gender", {"anything": 1}, "known: none"),
    ],
)
def test_configuration_errors(field_type: str, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_normalizer(field_type, options, SRC)


def _raise_outcome(norm, raw: str) -> BaseException | None:
    try:
        norm(raw)
    except (MissingValue, InvalidValue) as exc:
        return exc
    return None


@pytest.mark.parametrize(
    ("field_type", "raw"), [(t, v) for t, vs in BAD_VALUES.items() for v in vs]
)
def test_outcomes_never_carry_the_raw_value(field_type: str, raw: str) -> None:
    exc = _raise_outcome(ALL[field_type], raw)
    assert exc is not None, "fixture value was expected to be missing or invalid"
    assert exc.__context__ is None and exc.__cause__ is None
    assert exc.__traceback__ is not None
    visible = [str(exc), repr(exc), *map(str, exc.args), *map(str, vars(exc).values())]
    probes = {raw, raw.strip(), raw.lower(), *(w for w in raw.split() if len(w) >= 4)}
    for text in visible:
        for probe in probes:
            assert probe not in text
    if isinstance(exc, MissingValue):
        assert exc.reason in ("empty", "placeholder")
    else:
        assert exc.reason in REASONS


@given(st.text(max_size=40))
def test_arbitrary_text_gives_a_string_or_an_outcome(raw: str) -> None:
    for norm in [*ALL.values(), *NAME_PARTS]:
        exc = _raise_outcome(norm, raw)
        if exc is None:
            continue
        assert exc.__context__ is None
        assert exc.reason in REASONS
        if isinstance(exc, MissingValue) and exc.reason == "placeholder":
            assert exc.pattern and exc.pattern.isidentifier()


def test_normalizers_can_be_used_from_worker_processes() -> None:
    # encode may run chunks in worker processes: rebuilding from the picklable inputs
    # must give the same normaliser behaviour.
    args = pickle.loads(pickle.dumps(("name", {"nicknames": True}, SRC)))
    assert make_normalizer(*args)("Bill") == "william"


def test_every_reason_code_raised_is_explained() -> None:
    import re
    from pathlib import Path

    import hashmatch.normalize as package

    source = "".join(p.read_text() for p in Path(package.__file__).parent.glob("*.py"))
    raised = set(re.findall(r'InvalidValue\("([a-z_.]+)"\)', source))
    assert raised and raised <= set(REASONS)
    assert {"empty", "placeholder"} <= set(REASONS)


def test_every_data_file_names_its_source_and_licence() -> None:
    from importlib.resources import files

    data = files("hashmatch.normalize").joinpath("data")
    names = sorted(p.name for p in data.iterdir() if not p.name.startswith("."))
    assert len(names) >= 8
    for name in names:
        first = data.joinpath(name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# SOURCE:") and "LICENCE:" in first, name
