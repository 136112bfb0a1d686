"""How parties write values: dates, US phone numbers, street lines, names, ZIPs, ids.

Formatting works on raw parts rather than through ``datetime``/``phonenumbers``, because
a party must be able to write the impossible values the corruption model plants (a
30 February, a phone number with a digit missing) exactly as a real system would.
"""

from __future__ import annotations

from random import Random

from hashmatch.synth.people import Address

#: Street type -> the abbreviation US systems (and USPS) use.
STREET_ABBREVIATIONS = {
    "Street": "St",
    "Avenue": "Ave",
    "Road": "Rd",
    "Drive": "Dr",
    "Lane": "Ln",
    "Boulevard": "Blvd",
    "Court": "Ct",
    "Place": "Pl",
    "Way": "Way",
    "Circle": "Cir",
    "Terrace": "Ter",
    "Parkway": "Pkwy",
}


def date_text(ymd: tuple[int, int, int], fmt: str) -> str:
    """Write (year, month, day) with strftime-style ``%Y``, ``%m``, ``%d`` codes.

    >>> date_text((1984, 2, 30), "%d.%m.%Y")
    '30.02.1984'
    """
    y, m, d = ymd
    return fmt.replace("%Y", f"{y:04d}").replace("%m", f"{m:02d}").replace("%d", f"{d:02d}")


def _nanp(e164: str) -> tuple[str, str, str]:
    """Area code, exchange and line of a +1 number (the line keeps any broken length)."""
    digits = e164.removeprefix("+1")
    return digits[:3], digits[3:6], digits[6:]


def phone_national(e164: str) -> str:
    """``(206) 555-0123``."""
    area, exchange, line = _nanp(e164)
    return f"({area}) {exchange}-{line}"


def phone_any(e164: str, rng: Random) -> str:
    """One of the ways people type a US number into a free-text field."""
    area, exchange, line = _nanp(e164)
    return rng.choice(
        (
            f"{area}-{exchange}-{line}",
            f"{area}.{exchange}.{line}",
            f"({area}) {exchange}-{line}",
            f"+1 {area} {exchange} {line}",
            f"1-{area}-{exchange}-{line}",
            f"{area}{exchange}{line}",
        )
    )


def street_line(address: Address, *, abbreviate: bool, rng: Random) -> str:
    """House number, street and type, and the apartment if any: ``12 Oak St Apt 4``."""
    kind = STREET_ABBREVIATIONS[address.street_type] if abbreviate else address.street_type
    line = f"{address.house_number} {address.street} {kind}"
    if address.unit:
        line += " " + rng.choice(("Apt ", "Apt. ", "#", "Unit ")) + address.unit
    return line


def zip_text(address: Address, *, plus4: bool) -> str:
    return f"{address.zip5}-{address.zip4}" if plus4 else address.zip5


def full_name_last_first(given: str, middle: str, surname: str, rng: Random) -> str:
    """``Last, First`` and, now and then, a middle name or initial."""
    first = given
    if middle and rng.random() < 0.15:
        first += " " + (middle if rng.random() < 0.5 else middle[0] + ".")
    if not surname:
        return first
    return f"{surname}, {first}" if first else surname


def unique_ids(count: int, rng: Random, *, prefix: str, digits: int) -> list[str]:
    """``count`` distinct record ids such as ``C0048213``, in random order, so ids say
    nothing about which person or which other party's record they belong to."""
    numbers = rng.sample(range(10 ** (digits - 1), 10**digits), count)
    return [f"{prefix}{n}" for n in numbers]


def unique_hex_ids(count: int, rng: Random, *, prefix: str, length: int) -> list[str]:
    """``count`` distinct random hexadecimal ids such as ``p_3fa94c0e1b``."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        token = f"{prefix}{rng.getrandbits(4 * length):0{length}x}"
        if token not in seen:
            seen.add(token)
            out.append(token)
    return out
