"""Stub of the normalisers' compiled batch fast paths (``_shapes.pyx``)."""

def nanp_e164(
    values: list[str],
    national: bool,
    sequences: tuple[bytes, ...],
    valid_by_prefix: dict[str, bool],
    lengths: list[int],
) -> list[str | None]: ...
def email_canonicals(
    values: list[str],
    provider_rules: bool,
    safe: bytes,
    rules: dict[str, str],
    local_rules: dict[str, str],
    domain_rules: dict[str, str],
    reserved_tlds: frozenset[str],
    gmail_domains: frozenset[str],
) -> list[str | None]: ...
def address_canonicals(
    values: list[str], safe: bytes, rules: dict[str, str], rewritten: frozenset[str]
) -> list[str | None]: ...
