"""Which encodings can be linked together: one schema, one secret, one encoder, one CLK
length, and each party once. Checked before any comparison, naming both files."""

from __future__ import annotations

from collections.abc import Sequence

from hashmatch.errors import IncompatibleEncodingsError, SecretMismatchError
from hashmatch.link.result import PartyInfo

__all__ = ["check_compatible"]


def check_compatible(infos: Sequence[PartyInfo]) -> None:
    """Refuse inputs that cannot be linked together, naming both files.

    Raises
    ------
    SecretMismatchError
        Both files carry a secret commitment and they differ.
    IncompatibleEncodingsError
        Different schema fingerprint, encoder version or CLK length, or a party name used
        twice.
    """
    first = infos[0]
    seen: dict[str, PartyInfo] = {}
    for info in infos:
        other = seen.get(info.party)
        if other is not None:
            msg = f"{other.source} and {info.source} both claim to be party {info.party!r}"
            raise IncompatibleEncodingsError(msg, hint="each party encodes once, with its own name")
        seen[info.party] = info
        pair = f"{first.source} and {info.source}"
        if info.schema_fingerprint != first.schema_fingerprint:
            raise IncompatibleEncodingsError(
                f"{pair} were encoded with different linkage schemas",
                hint="all parties must encode with the same schema file (compare with "
                "`hashmatch inspect`)",
            )
        if info.encoder_version != first.encoder_version:
            raise IncompatibleEncodingsError(
                f"{pair} were written by different encoder versions "
                f"({first.encoder_version} and {info.encoder_version})",
                hint="all parties must encode with the same hashmatch encoder version",
            )
        if info.clk_bits != first.clk_bits:
            raise IncompatibleEncodingsError(
                f"{pair} have different CLK lengths ({first.clk_bits} and {info.clk_bits} bits)"
            )
        if (
            info.secret_commitment
            and first.secret_commitment
            and info.secret_commitment != first.secret_commitment
        ):
            raise SecretMismatchError(
                f"{pair} were encoded with different linkage secrets",
                hint="all parties must use the same linkage secret",
            )
