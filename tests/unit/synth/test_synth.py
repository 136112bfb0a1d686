"""hashmatch.synth: determinism, ground truth, twins, corruption rates, and fit with the
schema loader and the normalisers."""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import fields as dc_fields
from pathlib import Path
from random import Random

import phonenumbers
import pytest

from hashmatch.errors import HashmatchError
from hashmatch.normalize import InvalidValue, MissingValue, make_normalizer
from hashmatch.schema import load_mapping, load_schema, resolve_columns
from hashmatch.synth import PARTIES, CorruptionRates, SynthResult, synthesize
from hashmatch.synth.corrupt import gmail_alias, typo
from hashmatch.synth.people import make_population

SMALL = 400


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synthesize(tmp_path_factory.mktemp("synth"), entities=3000, seed=11)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", entities=SMALL, seed=5)
    b = synthesize(tmp_path / "b", entities=SMALL, seed=5)
    c = synthesize(tmp_path / "c", entities=SMALL, seed=6)
    assert _files(a.out_dir) == _files(b.out_dir)
    assert set(_files(a.out_dir)) == {
        "schema.toml",
        "truth.csv",
        "twins.csv",
        "README.txt",
        *(f"{p}.csv" for p in ("crm", "callcentre", "catalogue", "partner")),
        *(f"{p}.mapping.toml" for p in ("crm", "callcentre", "catalogue", "partner")),
    }
    for name in ("crm.csv", "partner.csv", "truth.csv"):
        assert _files(a.out_dir)[name] != _files(c.out_dir)[name]


def test_a_party_does_not_change_when_others_are_left_out(tmp_path: Path) -> None:
    every = synthesize(tmp_path / "all", entities=SMALL, seed=2)
    some = synthesize(tmp_path / "some", entities=SMALL, seed=2, parties=["partner", "crm"])
    assert every.parties["crm"].csv.read_bytes() == some.parties["crm"].csv.read_bytes()
    assert list(some.parties) == ["partner", "crm"]


def test_every_row_has_exactly_one_truth_row(result: SynthResult) -> None:
    truth = _read(result.truth)
    keys = [(t["party"], t["record_id"]) for t in truth]
    assert len(keys) == len(set(keys))
    for name, files in result.parties.items():
        ids = [row[PARTIES[name].id_column] for row in _read(files.csv)]
        assert len(ids) == files.rows == len(set(ids))
        assert sorted(ids) == sorted(r for p, r in keys if p == name)
        entities = [t["entity_id"] for t in truth if t["party"] == name]
        assert files.duplicates == len(entities) - len(set(entities)) > 0
    assert result.entities == len({t["entity_id"] for t in truth})
    assert result.people == 3000
    assert 0.85 * 3000 < result.entities <= 3000  # ~1 - 0.3*0.5*0.6*0.7 hold someone


def test_parties_hold_overlapping_subsets_of_the_expected_size(result: SynthResult) -> None:
    truth = _read(result.truth)
    held = {p: {t["entity_id"] for t in truth if t["party"] == p} for p in result.parties}
    for name, share in (("crm", 0.7), ("callcentre", 0.5), ("catalogue", 0.4), ("partner", 0.3)):
        assert abs(len(held[name]) / result.people - share) < 0.04
    both = held["crm"] & held["partner"]
    assert abs(len(both) / result.people - 0.7 * 0.3) < 0.04  # independent membership


def test_record_ids_reveal_nothing_about_entities(result: SynthResult) -> None:
    for name, files in result.parties.items():
        ids = [row[PARTIES[name].id_column] for row in _read(files.csv)]
        assert not any(i.startswith("E0") for i in ids)
        assert ids != sorted(ids)


def test_twins_are_distinct_people_sharing_dob_address_and_surname() -> None:
    population = make_population(2000, Random(3))
    people = {p.entity_id: p for p in population.people}
    assert len(population.twins) == round(2000 * 0.03 / 2)
    for a, b in population.twins:
        x, y = people[a], people[b]
        assert a != b and x.given != y.given
        assert (x.surname, x.dob, x.address) == (y.surname, y.dob, y.address)
    shared_phone = sum(people[a].phone == people[b].phone for a, b in population.twins)
    assert 0 < shared_phone < len(population.twins)


def test_twins_in_the_files_mostly_carry_the_same_dob(result: SynthResult) -> None:
    assert result.twins
    rows = {r["customer_id"]: r for r in _read(result.parties["crm"].csv)}
    entity_rows: dict[str, list[dict[str, str]]] = {}
    for t in _read(result.truth):
        if t["party"] == "crm":
            entity_rows.setdefault(t["entity_id"], []).append(rows[t["record_id"]])
    pairs = [
        (entity_rows[a][0], entity_rows[b][0])
        for a, b in result.twins
        if a in entity_rows and b in entity_rows
    ]
    assert len(pairs) >= 5

    def key(row: dict[str, str]) -> tuple[str, str]:
        return row["dob"].strip(), row["last_name"].strip().lower()

    # Cell noise (blanks, married names, typos) hides some, but most pairs look alike.
    assert sum(key(x) == key(y) for x, y in pairs) >= 0.5 * len(pairs)
    twin_ids = {e for pair in result.twins for e in pair}
    assert all(len(pair) == 2 and pair[0] != pair[1] for pair in result.twins)
    assert len(twin_ids) == 2 * len(result.twins)


def test_people_are_plausible() -> None:
    population = make_population(3000, Random(9))
    people = population.people
    assert len({p.entity_id for p in people}) == 3000
    assert len({p.email for p in people}) > 0.95 * 3000  # only household e-mails repeat
    for p in people:
        number = phonenumbers.parse(p.phone)
        assert phonenumbers.is_valid_number(number) and number.country_code == 1
        assert str(number.national_number)[3:7] == "5550"  # fictional 555-01XX lines
        assert 16 <= (2025 - p.dob.year) <= 100
        assert len(p.address.zip5) == 5 and p.address.zip5.isdigit()
    genders = Counter(p.gender for p in people)
    assert 0.4 < genders["f"] / 3000 < 0.6
    female = {n for p in people if p.gender == "f" for n in (p.given,)}
    assert {"Mary", "Jennifer"} <= female and "James" not in female


def test_corruption_rates_match_the_configuration(result: SynthResult) -> None:
    rates = CorruptionRates()
    stats = result.stats
    for f in dc_fields(CorruptionRates):
        p, n = getattr(rates, f.name), stats.eligible[f.name]
        assert n > 200, f.name
        assert abs(stats.rate(f.name) - p) < 4 * math.sqrt(p * (1 - p) / n) + 0.002, f.name


def test_rates_are_configurable(tmp_path: Path) -> None:
    none = CorruptionRates(**{f.name: 0.0 for f in dc_fields(CorruptionRates)})
    clean = synthesize(tmp_path, entities=SMALL, seed=1, rates=none, parties=["crm", "callcentre"])
    assert clean.planted == ()
    assert all(f.duplicates == 0 for f in clean.parties.values())
    truth = {(t["party"], t["record_id"]): t["entity_id"] for t in _read(clean.truth)}
    crm = _read(clean.parties["crm"].csv)
    assert all(v == v.strip() and v for row in crm for v in row.values())
    by_entity = {truth[("crm", r["customer_id"])]: r for r in crm}
    calls = _read(clean.parties["callcentre"].csv)
    common = [
        (by_entity[truth[("callcentre", c["caller_ref"])]], c)
        for c in calls
        if truth[("callcentre", c["caller_ref"])] in by_entity
    ]
    assert common
    for r, c in common:  # no corruption: both parties agree on everything they share
        assert c["full_name"].startswith(f"{r['last_name']}, {r['first_name']}")
        y, m, d = r["dob"].split("-")
        assert c["dob"] == f"{m}/{d}/{y}"
        assert c["zip"] == r["zip_code"][:5]


def test_noisy_rates_show_up_in_the_files(tmp_path: Path) -> None:
    noisy = CorruptionRates(missing=0.3, nickname=1.0)
    out = synthesize(tmp_path, entities=SMALL, seed=4, rates=noisy, parties=["crm"])
    rows = _read(out.parties["crm"].csv)
    blank = sum(
        not v.strip()
        or v in ("N/A", "n/a", "unknown", "UNKNOWN", "-", "NULL", "none", "?", "not given")
        for row in rows
        for k, v in row.items()
        if k != "customer_id"
    )
    assert 0.25 < blank / (len(rows) * 9) < 0.35
    assert out.stats.applied["nickname"] == out.stats.eligible["nickname"] > 0


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (optimal string alignment)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_typo_is_one_small_edit() -> None:
    rng = Random(0)
    changed = 0
    for word in ("william", "smith", "o", "maple"):
        for _ in range(50):
            out = typo(word, rng)
            assert _edit_distance(word, out) <= 1
            changed += out != word
    assert changed > 0.9 * 200  # only a same-letter substitution leaves it unchanged


def test_gmail_alias_is_the_same_mailbox() -> None:
    rng = Random(1)

    def mailbox(email: str) -> str:
        local, domain = email.split("@")
        return local.split("+")[0].replace(".", "") + "@" + domain.replace("googlemail", "gmail")

    for _ in range(100):
        alias = gmail_alias("john.smith@gmail.com", rng)
        assert mailbox(alias) == "johnsmith@gmail.com"


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(HashmatchError, match="entities"):
        synthesize(tmp_path, entities=0)
    with pytest.raises(HashmatchError, match="parties"):
        synthesize(tmp_path, parties=["crm", "nope"])
    with pytest.raises(HashmatchError, match="parties"):
        synthesize(tmp_path, parties=["crm", "crm"])


def test_data_files_state_source_and_licence() -> None:
    data = Path(__file__).parents[3] / "src" / "hashmatch" / "synth" / "data"
    files = sorted(data.glob("*.csv"))
    assert len(files) == 5
    for path in files:
        head = path.read_text("utf-8").splitlines()[:2]
        assert head[0].startswith("# SOURCE:") and head[1].startswith("# LICENCE:")
        assert "GPL" not in " ".join(head)


def test_schema_and_mappings_load_and_resolve(result: SynthResult) -> None:
    schema = load_schema(result.schema)
    assert {f.name for f in schema.fields} >= {
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "phone",
        "address",
        "postcode",
    }
    expected_absent = {
        "crm": (),
        "callcentre": ("email", "address", "city"),
        "catalogue": ("email", "phone"),
        "partner": ("address", "postcode", "city"),
    }
    for name, files in result.parties.items():
        mapping = load_mapping(files.mapping, schema)
        header = next(csv.reader(files.csv.open(newline="", encoding="utf-8")))
        resolved = resolve_columns(mapping, schema, header, str(files.csv))
        assert resolved.record_id_index == 0
        assert resolved.absent_fields == expected_absent[name]


def test_values_normalise_except_the_planted_ones(result: SynthResult) -> None:
    schema = load_schema(result.schema)
    planted = {(p.party, p.record_id, p.column): p.kind for p in result.planted}
    kinds = Counter(planted.values())
    assert kinds["invalid"] > 20 and kinds["missing"] > 500
    for name, files in result.parties.items():
        mapping = load_mapping(files.mapping, schema)
        with files.csv.open(newline="", encoding="utf-8") as fh:
            header, *rows = list(csv.reader(fh))
        resolved = resolve_columns(mapping, schema, header, str(files.csv))
        for field_name, rf in resolved.fields.items():
            spec = schema.field_named(field_name)
            normalise = make_normalizer(spec.type, spec.normalize, rf.source)
            column = header[rf.indices[0]]
            outcome: Counter[tuple[str, str]] = Counter()
            for row in rows:
                expected = planted.get((name, row[0], column), "ok")
                try:
                    normalise(" ".join(row[i] for i in rf.indices))
                    got = "ok"
                except MissingValue:
                    got = "missing"
                except InvalidValue:
                    got = "invalid"
                outcome[expected, got] += 1
            where = f"{name}.{field_name}"
            assert outcome["invalid", "ok"] == outcome["missing", "ok"] == 0, where
            assert outcome["invalid", "missing"] == outcome["missing", "invalid"] == 0, where
            ok = sum(n for (e, _), n in outcome.items() if e == "ok")
            assert outcome["ok", "ok"] >= 0.995 * ok, (where, outcome)


def test_committed_example_is_what_the_generator_writes(tmp_path: Path) -> None:
    example = Path(__file__).parents[3] / "examples" / "two_departments"
    out = synthesize(tmp_path, entities=46, seed=17, parties=["crm", "callcentre"])
    for path in sorted(out.out_dir.iterdir()):
        assert path.read_bytes() == (example / path.name).read_bytes(), (
            f"{path.name} differs: regenerate with the command in {example}/README.md"
        )
