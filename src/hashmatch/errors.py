"""The exceptions hashmatch raises.

All derive from :class:`HashmatchError`, so a caller can catch one root. Messages name
*where* (file, row, column, key path) and *how to fix*, and never contain a raw input
value, a token or the linkage secret: they may end up in logs that leave the silo.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class HashmatchError(Exception):
    """Root of every error hashmatch raises on purpose."""

    #: Optional one-line hint on how to fix the problem, shown by the CLI.
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is and what would be valid."""

    path: str  # e.g. "fields[2].bloom.q"
    message: str  # e.g. "expected an integer 1-5, got 7"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SchemaError(HashmatchError):
    """A linkage schema (or party mapping) is invalid. Lists every problem found."""

    def __init__(self, problems: Iterable[Problem], *, source: str | None = None) -> None:
        self.problems: Sequence[Problem] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"{len(self.problems)} problem(s){where}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class MappingError(SchemaError):
    """A party's column mapping does not fit the schema or the input file."""


class InputDataError(HashmatchError):
    """An input data file cannot be read (missing column, empty file, bad encoding...).

    Carries the location, never the offending value.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.row, self.column = file, row, column
        where = ", ".join(
            part
            for part in (
                file and f"file {file}",
                row is not None and f"row {row}",
                column and f"column {column!r}",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class SecretError(HashmatchError):
    """The linkage secret is missing, unreadable, too short or too widely readable."""


class EncodingFileError(HashmatchError):
    """An encoding (.hme) file cannot be used: not one, unknown version, truncated."""


class TamperedFileError(EncodingFileError):
    """The file's checksum or signature does not match its content."""


class IncompatibleEncodingsError(HashmatchError):
    """Encoding files that cannot be linked together (schema, encoder, CLK length, party)."""


class SecretMismatchError(IncompatibleEncodingsError):
    """Encoding files were made with different linkage secrets."""


class ResultsError(HashmatchError):
    """A results folder, lookup or truth file is missing, malformed or inconsistent."""


class CostLimitError(HashmatchError):
    """A run would cost more than its documented limit (time, memory) and was not forced."""


class KeyFileError(HashmatchError):
    """A key file is missing, malformed, of the wrong kind, or too widely readable."""


class SealedFileError(EncodingFileError):
    """A sealed (encrypted and signed) file cannot be opened."""


class WrongRecipientError(SealedFileError):
    """A sealed file was sealed for a different coordinator key."""


class SignatureError(SealedFileError, TamperedFileError):
    """A sealed file's signature is missing, invalid, or from an untrusted key."""


class RegistryError(HashmatchError):
    """An entity registry cannot be opened or used: missing, foreign, newer than this
    hashmatch, or made for other encodings (its schema fingerprint or secret commitment)."""


class RegistryBusyError(RegistryError):
    """Another run holds the registry and did not finish within the wait allowed."""


class OutputError(HashmatchError):
    """An output cannot be written: it exists (without --force), it is one of the run's
    inputs, it is not a regular file, or the operating system refused the write."""


class PartyNameError(HashmatchError):
    """A party name is empty, not printable, or unsafe in a file name or a spreadsheet."""
