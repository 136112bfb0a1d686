"""`hashmatch schema new|check` through CliRunner: outputs, exit codes, no value leaks."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.cli.schema import (
    DateFormatOption,
    IdColumnOption,
    MapOption,
    NameOrderOption,
    PartOption,
    PhoneRegionOption,
)
from hashmatch.schema import (
    MappingOverrides,
    load_mapping,
    load_schema,
    mapping_options_from_cli,
)

MESSY = Path(__file__).parents[1] / "data" / "schema_messy.csv"
runner = CliRunner()


def _value_fragments() -> set[str]:
    """Every substring of length >= 4 of every cell value that is not also in the header."""
    with MESSY.open(newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    allowed = " ".join(header).casefold()
    out = set()
    for row in rows:
        for value in row:
            v = value.strip().casefold()
            out |= {v[i:j] for i in range(len(v)) for j in range(i + 4, len(v) + 1)}
    return {f for f in out if f not in allowed}


def test_new_proposes_from_a_messy_file_without_leaking_values(tmp_path: Path) -> None:
    out = tmp_path / "schema.toml"
    mapping = tmp_path / "crm.mapping.json"
    result = runner.invoke(
        app,
        [
            "schema",
            "new",
            str(MESSY),
            "-o",
            str(out),
            "--mapping-out",
            str(mapping),
            "--sample",
            "100",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Sampled 6 rows of {MESSY}."
    assert lines[1].split() == ["column", "field", "type", "confidence", "evidence"]
    rows = {line.split("  ")[0].strip(): line.split() for line in lines[2:15]}
    assert rows["D.O.B."][1:4] == ["date_of_birth", "date", "high"]
    assert rows["Full Name"][2:4] == ["first_name+last_name", "name"]
    assert rows["E-mail Address"][2:4] == ["email", "email"]
    assert rows["Notes"][1:3] == ["-", "-"]
    schema = load_schema(out)
    party = load_mapping(mapping, schema)
    assert party.record_id == "Cust ID"
    assert party.fields["address"].columns == ("Addr Line 1", "addr line 2")
    produced = (result.output + out.read_text() + mapping.read_text()).casefold()
    leaked = sorted(f for f in _value_fragments() if f in produced)
    assert leaked == []


def test_new_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    out.write_text("{}")
    result = runner.invoke(app, ["schema", "new", str(MESSY), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {out} exists; refusing to overwrite it",
        "hint: pass --force (force=True) to replace it, or choose another path",
    ]
    assert out.read_text() == "{}"
    result = runner.invoke(app, ["schema", "new", str(MESSY), "-o", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "schema_messy.mapping.json").exists()
    assert load_schema(out).fingerprint.startswith("sha256:")


def test_new_reports_an_unreadable_input(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["schema", "new", str(tmp_path / "x.csv"), "-o", str(tmp_path / "s.toml")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: file {tmp_path / 'x.csv'}: file not found")


def test_check_prints_layout_and_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(
        "version = 1\n[clk]\nbits = 128\n"
        '[[fields]]\nname = "last_name"\ntype = "name"\nbloom = { weight = 3 }\n'
        '[[fields]]\nname = "dob"\ntype = "date"\nbloom = true\nexact = true\n'
        '[[match_keys]]\nname = "blk"\nparts = ["last_name:soundex", "dob:year"]\n'
        'purpose = "block"\n'
    )
    fp = load_schema(path).fingerprint
    result = runner.invoke(app, ["schema", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"OK: 2 fields, CLK 128 bits, fingerprint {fp}",
        "segment    start  bits  k  q",
        "last_name  0      96    5  2",
        "dob        96     32    4  2",
        "exact tokens: dob, blk (block key)",
    ]


def test_check_reports_every_problem_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        '{"version": 1, "clk": {"bits": 100}, "fields": [{"name": "x", '
        '"type": "name", "bloom": {"q": 9}}]}'
    )
    result = runner.invoke(app, ["schema", "check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: 2 problem(s) in {path}:",
        "  - clk.bits: expected a multiple of 64 in 64-65536, got 100",
        "  - fields[0].bloom.q: expected an integer 1-5, got 9",
    ]


def test_check_with_a_mapping(tmp_path: Path) -> None:
    schema = tmp_path / "s.toml"
    schema.write_text('version = 1\n[[fields]]\nname = "email"\ntype = "email"\nexact = true\n')
    mapping = tmp_path / "m.toml"
    mapping.write_text('[fields]\nemial = "mail"\n')
    result = runner.invoke(app, ["schema", "check", str(schema), "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert "fields.emial: unknown key; did you mean 'email'?" in result.stderr
    mapping.write_text('[fields]\nemail = "mail"\n')
    result = runner.invoke(app, ["schema", "check", str(schema), "--mapping", str(mapping)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-2:] == ["exact tokens: email", f"mapping {mapping}: OK"]


def test_help_has_examples() -> None:
    for command in ("new", "check"):
        result = runner.invoke(app, ["schema", command, "--help"])
        assert result.exit_code == 0
        assert f"hashmatch schema {command}" in result.stdout


def test_shared_mapping_options_parse_into_overrides() -> None:
    seen: list[MappingOverrides] = []
    demo = typer.Typer()

    @demo.command()
    def encode(
        map_: MapOption = None,
        part: PartOption = None,
        name_order: NameOrderOption = None,
        date_format: DateFormatOption = None,
        phone_region: PhoneRegionOption = None,
        id_column: IdColumnOption = None,
    ) -> None:
        seen.append(
            mapping_options_from_cli(
                map_=map_,
                part=part,
                name_order=name_order,
                date_format=date_format,
                phone_region=phone_region,
                id_column=id_column,
            )
        )

    args = [
        "--map",
        "first_name=full_name",
        "--map",
        "address=a+b",
        "--part",
        "first_name=first",
        "--name-order",
        "first_name=last_first",
        "--date-format",
        "%d.%m.%Y",
        "--date-format",
        "dob=%Y",
        "--phone-region",
        "GB",
        "--id-column",
        "id",
    ]
    result = runner.invoke(demo, args)
    assert result.exit_code == 0, result.output
    assert seen == [
        MappingOverrides(
            columns={"first_name": ("full_name",), "address": ("a", "b")},
            parts={"first_name": "first"},
            name_orders={"first_name": "last_first"},
            date_formats={"dob": ("%Y",)},
            default_date_formats=("%d.%m.%Y",),
            phone_region="GB",
            record_id="id",
        )
    ]


def test_check_binds_a_mapping_to_a_data_file(tmp_path: Path) -> None:
    schema = tmp_path / "s.toml"
    schema.write_text(
        'version = 1\n[[fields]]\nname = "first_name"\ntype = "name"\nbloom = true\n'
        '[[fields]]\nname = "last_name"\ntype = "name"\nbloom = true\n'
        '[[fields]]\nname = "email"\ntype = "email"\nexact = true\n'
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'record_id = "Cust ID"\n[fields]\n'
        'first_name = { column = "Full Name", part = "first", name_order = "last_first" }\n'
        'last_name = { column = "Full Name", part = "last", name_order = "last_first" }\n'
    )
    args = ["schema", "check", str(schema), "--mapping", str(mapping), "--data", str(MESSY)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-5:] == [
        f"{MESSY}: 2 of 3 fields found",
        "field       columns    parse",
        "first_name  Full Name  first, last_first",
        "last_name   Full Name  last, last_first",
        "absent: email",
    ]
    mapping.write_text('[fields]\nemail = "Email"\n')
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        f"error: 1 problem(s) in {MESSY}:",
        f"  - fields.email: column 'Email' not found in {MESSY}",
    ]
    # No column the mapping or schema names is in the header: its cells are not listed.
    assert result.stderr.splitlines()[2].startswith("hint: no column named by the mapping")
    assert "Full Name" not in result.stderr
    mapping.write_text('[fields]\nemail = "Email"\nfirst_name = "Full Name"\n')
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[2].startswith("hint: columns of ")  # evidently a header
    assert "Quixley" not in result.output
