"""``hashmatch keygen``: the linkage secret, the coordinator's key pair, a party's signing key.

Three kinds of key, one command: with no flag it writes the linkage secret shared by the
parties (never by the coordinator); ``--coordinator`` writes the key pair parties seal
their files for; ``--party NAME`` writes the key a party signs its sealed files with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import force_option, reporting_errors
from hashmatch.encode import LinkageSecret
from hashmatch.output_set import OutputSet
from hashmatch.party_names import check_party_name
from hashmatch.seal.keyfiles import (
    CoordinatorKey,
    PartySigningKey,
    write_coordinator_keys,
    write_party_keys,
)


def keygen(
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Secret file to create; with --coordinator/--party the common name of "
            "OUTPUT.key and OUTPUT.pub. Never overwritten without --force.",
        ),
    ],
    coordinator: Annotated[
        bool,
        typer.Option("--coordinator", help="Make the coordinator's key pair for sealed files."),
    ] = False,
    party: Annotated[
        str | None,
        typer.Option("--party", metavar="NAME", help="Make party NAME's signing key pair."),
    ] = None,
    force: Annotated[
        bool,
        force_option(
            "Replace existing key files (anything made with the old key stops working)."
        ),
    ] = False,
) -> None:
    """Write a new key: the linkage secret, or a key pair for sealed files.

    Without a flag: a random 256-bit linkage secret, readable by you only
    (0600). Every party of one linkage encodes with the same secret; share it
    over a secure channel and never give it to the coordinator.

    --coordinator: OUTPUT.key (0600, stays with the coordinator) and
    OUTPUT.pub (give it to every party, who seal their files for it).

    --party NAME: OUTPUT.key (0600, stays with the party, signs its sealed
    files) and OUTPUT.pub (give it to the coordinator's trust folder).

    Example:

        hashmatch keygen -o linkage.secret

        hashmatch keygen --coordinator -o coordinator

        hashmatch keygen --party crm -o crm
    """
    if coordinator and party is not None:
        raise typer.BadParameter("choose one of --coordinator and --party", param_hint="--party")
    with reporting_errors():
        if party is not None:  # the rule of the party name in an .hme, which must match
            check_party_name(party)
        if coordinator:
            private, public = _key_pair_paths(output)
            key = CoordinatorKey.generate()
            with OutputSet([private, public], force=force) as pair:  # both or neither
                write_coordinator_keys(key, pair.path(private), pair.path(public))
            typer.echo(
                f"wrote coordinator key {key.key_id}: {private} (mode 0600; keep it private) "
                f"and {public} (give it to every party)"
            )
        elif party is not None:
            private, public = _key_pair_paths(output)
            signing = PartySigningKey.generate(party)
            with OutputSet([private, public], force=force) as pair:  # both or neither
                write_party_keys(signing, pair.path(private), pair.path(public))
            typer.echo(
                f"wrote signing key {signing.key_id} of party {party!r}: {private} "
                f"(mode 0600; keep it private) and {public} (give it to the coordinator)"
            )
        else:
            LinkageSecret.generate().write(output, force=force)
            typer.echo(f"wrote a new linkage secret to {output} (mode 0600; keep it private)")


def _key_pair_paths(output: Path) -> tuple[Path, Path]:
    """OUTPUT.key and OUTPUT.pub (``-o crm.key`` means the same as ``-o crm``).

    Both are written as one unit (checked before either is written, committed together),
    so a refusal or a crash never leaves half a pair.
    """
    stem = output.with_suffix("") if output.suffix in (".key", ".pub") else output
    return stem.with_name(stem.name + ".key"), stem.with_name(stem.name + ".pub")


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
