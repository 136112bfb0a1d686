"""Stub of the normalisers' compiled batch fast paths (``_shapes.pyx``)."""

def nanp_e164(
    values: list[str],
    national: bool,
    sequences: tuple[bytes, ...],
    valid_by_prefix: dict[str, bool],
    lengths: list[int],
) -> list[str | None]: ...
