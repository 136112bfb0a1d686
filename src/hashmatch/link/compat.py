"""Which encodings can be linked together: one schema, one secret (each file must carry
the commitment to it), one encoder, one CLK length, each party once under a valid name,
and each row token once per file. Checked before any comparison, naming the files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from hashmatch._types import RowTokens
from hashmatch.errors import (
    EncodingFileError,
    IncompatibleEncodingsError,
    PartyNameError,
    SecretMismatchError,
)
from hashmatch.link.result import PartyInfo
from hashmatch.party_names import party_name_problem

__all__ = ["check_compatible", "check_row_tokens"]


def check_compatible(infos: Sequence[PartyInfo]) -> None:
    """Refuse inputs that cannot be linked together, naming both files.

    Raises
    ------
    SecretMismatchError
        Both files carry a secret commitment and they differ.
    IncompatibleEncodingsError
        Different schema fingerprint, encoder version or CLK length, a party name used
        twice, or a file without a secret commitment (nothing to check its secret by).
    PartyNameError
        A party name that is not valid (see :mod:`hashmatch.party_names`).
    """
    first = infos[0]
    seen: dict[str, PartyInfo] = {}
    for info in infos:
        # a name starting with NUL is a stand-in, not a party (the registry's own layout)
        problem = None if info.party.startswith("\0") else party_name_problem(info.party)
        if problem is not None:
            raise PartyNameError(
                f"{info.source}: the party name in its header {problem}",
                hint="the party must encode again with a valid --party name",
            )
        if not info.secret_commitment:
            raise IncompatibleEncodingsError(
                f"{info.source} carries no secret commitment, so nothing shows it was made "
                "with the same linkage secret as the others",
                hint="the party must encode again with hashmatch encode --secret",
            )
        other = seen.get(info.party)
        if other is not None:
            msg = f"{other.source} and {info.source} both claim to be party {info.party!r}"
            raise IncompatibleEncodingsError(msg, hint="each party encodes once, with its own name")
        seen[info.party] = info
        pair = f"{first.source} and {info.source}"
        if info.schema_fingerprint != first.schema_fingerprint:
            if _hardening_options(info) != _hardening_options(first):
                raise IncompatibleEncodingsError(
                    f"{pair} were encoded with different hardening "
                    f"({_describe(first)} and {_describe(info)})",
                    hint="all parties must encode with the same hardening; files made with "
                    'the "recommended" of hashmatch 0.1 (balance, blip epsilon 25) link with '
                    'files encoded with hardening = "recommended-v1"',
                )
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


def _hardening_options(info: PartyInfo) -> object:
    record = info.hardening or {}
    return dict(record.get("options") or {})


def _describe(info: PartyInfo) -> str:
    """``"profile recommended: even, permute"`` from a header's hardening record."""
    record = info.hardening or {}
    options = record.get("options") or {}
    on = [
        k if v is True else f"{k} {', '.join(f'{a}={b}' for a, b in v.items())}"
        for k, v in options.items()
        if v is True or isinstance(v, Mapping)
    ]
    if not record:
        return "none"
    return f"profile {record.get('profile', 'custom')}: {', '.join(on) or 'no options'}"


def check_row_tokens(infos: Sequence[PartyInfo], row_tokens: Sequence[RowTokens]) -> None:
    """Refuse a file whose row tokens repeat: a row token names one row of one party.

    Row tokens are random, so a repeat means a forged or corrupted file, and its rows
    could not be told apart on the way back to the party.

    Raises
    ------
    EncodingFileError
        A file holds the same row token twice (the message counts them, never shows one).
    """
    for info, tokens in zip(infos, row_tokens, strict=True):
        packed = np.ascontiguousarray(tokens, dtype=np.uint8).view(np.uint64).reshape(-1, 2)
        if len(packed) < 2:
            continue
        order = np.lexsort((packed[:, 1], packed[:, 0]))
        ordered = packed[order]
        repeats = int(np.all(ordered[1:] == ordered[:-1], axis=1).sum())
        if repeats:
            raise EncodingFileError(
                f"{info.source}: {repeats:,} row token(s) occur more than once; a row token "
                "must name one row",
                hint="the file is corrupt or forged: ask the party to encode again",
            )
