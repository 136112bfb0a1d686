"""True identities for synthetic parties: people living in households, some of them twins.

This is the ground truth every party's records are later drawn from (see ``corrupt.py``
for how a party's copy drifts from it). People are American: US towns, 5-digit ZIPs,
US phone numbers. Phone numbers come from the fictional ``NPA-555-01XX`` range (valid
for ``phonenumbers``, reserved for fiction) while it lasts, so committed samples never
carry a real person's number; only very large populations fall back to random valid
numbers. Households share an address and usually a surname; twins share surname, date
of birth and address (often a phone and an e-mail provider) yet are different people,
which is exactly the trap a linker must not fall into.
"""

from __future__ import annotations

import csv
import itertools
from bisect import bisect
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache, lru_cache
from importlib import resources
from random import Random

import phonenumbers
from anyascii import anyascii

#: Ages are computed against this fixed day, so output never depends on the clock.
REFERENCE_DATE = date(2025, 1, 1)

#: Share of people who are one of a pair of twins (the pairs are planted explicitly).
TWIN_SHARE = 0.03


@dataclass(frozen=True)
class Address:
    house_number: str
    street: str  # base name, e.g. "Maple"
    street_type: str  # full word, e.g. "Street"; formats.py abbreviates
    unit: str  # "" or an apartment, e.g. "4B"
    town: str
    state: str
    zip5: str
    zip4: str


@dataclass(frozen=True)
class Person:
    entity_id: str
    given: str
    middle: str  # "" when none
    surname: str
    gender: str  # "f" | "m"
    dob: date
    email: str
    phone: str  # E.164
    address: Address
    household: int


@dataclass(frozen=True)
class Population:
    people: tuple[Person, ...]
    twins: tuple[tuple[str, str], ...]  # entity-id pairs


class _Weighted:
    """Items with cumulative weights, for fast repeated weighted draws."""

    def __init__(self, items: list[str], weights: list[float]) -> None:
        self.items = items
        self.cum = list(itertools.accumulate(weights))

    def draw(self, rng: Random) -> str:
        return self.items[bisect(self.cum, rng.random() * self.cum[-1])]


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("hashmatch.synth").joinpath("data").joinpath(name).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@dataclass(frozen=True)
class Town:
    name: str
    state: str
    zip3: str
    area_code: str


class NameBank:
    """The hand-written lists under ``synth/data`` (each file states its source/licence)."""

    def __init__(self) -> None:
        given = _rows("given_names.csv")
        self.given = {
            g: _Weighted(
                [r["name"] for r in given if r["gender"] == g],
                [float(r["weight"]) for r in given if r["gender"] == g],
            )
            for g in ("f", "m")
        }
        sur = _rows("surnames.csv")
        self.surnames = _Weighted([r["name"] for r in sur], [float(r["weight"]) for r in sur])
        self.streets = [r["name"] for r in _rows("streets.csv")]
        towns = _rows("towns.csv")
        self.towns = [Town(r["town"], r["state"], r["zip3"], r["area_code"]) for r in towns]
        self.area_codes = {(t.name, t.state): t.area_code for t in self.towns}
        self._town_draw = _Weighted(
            [str(i) for i in range(len(towns))], [float(r["weight"]) for r in towns]
        )
        dom = _rows("email_domains.csv")
        self.domains = _Weighted([r["domain"] for r in dom], [float(r["weight"]) for r in dom])

    def town(self, rng: Random) -> Town:
        return self.towns[int(self._town_draw.draw(rng))]


@cache
def name_bank() -> NameBank:
    return NameBank()


#: Full street types and how often they occur; formats.py knows their abbreviations.
STREET_TYPES = _Weighted(
    [
        "Street",
        "Avenue",
        "Road",
        "Drive",
        "Lane",
        "Boulevard",
        "Court",
        "Place",
        "Way",
        "Circle",
        "Terrace",
        "Parkway",
    ],
    [30, 18, 12, 12, 8, 4, 5, 3, 3, 2, 2, 1],
)


def new_address(rng: Random, bank: NameBank | None = None) -> Address:
    """A fresh random address (also used for people who move)."""
    bank = bank or name_bank()
    town = bank.town(rng)
    digits = rng.choice((1, 2, 3, 3, 4, 4, 4, 5))
    house = str(rng.randint(10 ** (digits - 1), 10**digits - 1))
    unit = ""
    if rng.random() < 0.15:
        unit = str(rng.randint(1, 30)) + rng.choice(("", "", "A", "B", "C"))
    return Address(
        house_number=house,
        street=rng.choice(bank.streets),
        street_type=STREET_TYPES.draw(rng),
        unit=unit,
        town=town.name,
        state=town.state,
        zip5=f"{town.zip3}{rng.randint(1, 99):02d}",
        zip4=f"{rng.randint(1, 9999):04d}",
    )


@cache
def _valid_area_codes() -> tuple[str, ...]:
    """US area codes for which phonenumbers accepts the fictional NPA-555-01XX lines."""
    return tuple(
        str(npa)
        for npa in range(200, 1000)
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{npa}5550123"))
    )


class PhoneBook:
    """Hands out unique valid US numbers, fictional 555-01XX lines first."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.fictional = {npa: list(range(100, 200)) for npa in _valid_area_codes()}
        self.open_codes = list(self.fictional)

    def _take_fictional(self, npa: str) -> str | None:
        lines = self.fictional.get(npa)
        if not lines:
            return None
        line = lines.pop(self.rng.randrange(len(lines)))
        if not lines:
            self.open_codes.remove(npa)
        return f"+1{npa}5550{line}"

    def number(self, area_code: str) -> str:
        number = self._take_fictional(area_code)
        if number is None and self.open_codes:
            number = self._take_fictional(self.rng.choice(self.open_codes))
        while number is None or number in self.used:
            exchange = self.rng.randint(200, 999)
            if exchange == 555 or exchange % 100 == 11:
                continue
            candidate = f"+1{area_code}{exchange}{self.rng.randint(0, 9999):04d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
                number = candidate
        self.used.add(number)
        return number


@lru_cache(maxsize=4096)  # names repeat a lot
def ascii_lower(text: str) -> str:
    """Accent-free lower-case letters only (for e-mail local parts)."""
    return "".join(c for c in anyascii(text).lower() if c.isalnum())


class EmailBook:
    """Makes unique e-mail addresses in the styles people really use."""

    def __init__(self, rng: Random, bank: NameBank) -> None:
        self.rng, self.bank = rng, bank
        self.used: set[str] = set()

    def address(
        self, given: str, middle: str, surname: str, dob: date, domain: str | None = None
    ) -> str:
        rng = self.rng
        first, last = ascii_lower(given), ascii_lower(surname)
        style = rng.random()
        if style < 0.30:
            local = f"{first}.{last}"
        elif style < 0.40:
            local = f"{first}{last}"
        elif style < 0.55:
            local = f"{first[0]}{last}{rng.randint(1, 99)}"
        elif style < 0.65:
            local = f"{first}_{last}"
        elif style < 0.80:
            local = f"{first}{dob.year % 100:02d}"
        elif style < 0.90:
            local = f"{nickname_for(given, rng) or first}{rng.randint(1, 999)}"
        elif style < 0.95:
            local = f"{last}.{first}"
        else:
            local = f"{first[0]}{ascii_lower(middle)[:1]}{last}"
        domain = domain or self.bank.domains.draw(rng)
        email = f"{local}@{domain}"
        while email in self.used:
            email = f"{local}{rng.randint(1, 9999)}@{domain}"
        self.used.add(email)
        return email

    def family(self, surname: str, domain: str) -> str:
        """A shared household address such as ``thesmiths@...``."""
        last = ascii_lower(surname)
        local = self.rng.choice((f"the{last}s", f"{last}family", f"{last}house"))
        email = f"{local}@{domain}"
        while email in self.used:
            email = f"{local}{self.rng.randint(1, 99)}@{domain}"
        self.used.add(email)
        return email


@cache
def _nicknamer():  # type: ignore[no-untyped-def]
    from nicknames import NickNamer

    return NickNamer()


@lru_cache(maxsize=4096)
def _nicknames(given: str) -> tuple[str, ...]:
    return tuple(sorted(n for n in _nicknamer().nicknames_of(ascii_lower(given)) if len(n) >= 3))


def nickname_for(given: str, rng: Random) -> str | None:
    """A nickname of ``given`` from the ``nicknames`` table (e.g. Bill for William), if any."""
    options = _nicknames(given)
    return rng.choice(options) if options else None


def _dob_for_age(rng: Random, low: int, high: int) -> date:
    """A birth date for someone aged between ``low`` and ``high`` on REFERENCE_DATE."""
    newest = REFERENCE_DATE - timedelta(days=round(365.25 * low))
    span = round(365.25 * (high - low))
    return newest - timedelta(days=rng.randint(0, span))


def _adult_age(rng: Random) -> tuple[int, int]:
    """An age band for an adult; fewer people over 70, as in a customer base."""
    low = rng.choice((18, 22, 25, 30, 30, 35, 35, 40, 40, 45, 45, 50, 50, 55, 60, 65, 70, 80))
    return low, low + 5


class _Builder:
    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.bank = name_bank()
        self.phones = PhoneBook(rng)
        self.emails = EmailBook(rng, self.bank)
        self.people: list[Person] = []  # entity ids are given at the end
        self.twins: list[tuple[int, int]] = []
        self.household = 0

    def given(self, gender: str, avoid: set[str]) -> str:
        while True:
            name = self.bank.given[gender].draw(self.rng)
            if name not in avoid:
                return name

    def person(
        self,
        gender: str,
        surname: str,
        dob: date,
        address: Address,
        area_code: str,
        avoid: set[str],
        *,
        phone: str | None = None,
        email_domain: str | None = None,
    ) -> int:
        rng = self.rng
        given = self.given(gender, avoid)
        avoid.add(given)
        middle = self.given(gender, {given}) if rng.random() < 0.6 else ""
        self.people.append(
            Person(
                entity_id="",
                given=given,
                middle=middle,
                surname=surname,
                gender=gender,
                dob=dob,
                email=self.emails.address(given, middle, surname, dob, email_domain),
                phone=phone or self.phones.number(area_code),
                address=address,
                household=self.household,
            )
        )
        return len(self.people) - 1

    def household_of(self, size: int, with_twins: bool) -> None:
        rng, bank = self.rng, self.bank
        self.household += 1
        address = new_address(rng, bank)
        area = bank.area_codes[address.town, address.state]
        surname = bank.surnames.draw(rng)
        names: set[str] = set()
        kids = size - 2 if size >= 3 else 0
        first_gender = rng.choice("fm")
        low, high = (42, 70) if kids else _adult_age(rng)
        parent_dob = _dob_for_age(rng, low, high)
        first = self.person(first_gender, surname, parent_dob, address, area, names)
        if size >= 2:
            gender = first_gender if rng.random() < 0.08 else ("m" if first_gender == "f" else "f")
            own = surname if rng.random() < 0.75 else bank.surnames.draw(rng)
            dob = parent_dob + timedelta(days=rng.randint(-5 * 365, 5 * 365))
            family = None
            if rng.random() < 0.1:  # a household e-mail that both partners use
                family = self.emails.family(surname, self.bank.domains.draw(rng))
                self.people[first] = replace(self.people[first], email=family)
            partner = self.person(
                gender,
                own,
                min(dob, _dob_for_age(rng, 20, 20)),  # at least 20 years old
                address,
                area,
                names,
                phone=self.people[first].phone if rng.random() < 0.08 else None,
            )
            if family:
                self.people[partner] = replace(self.people[partner], email=family)
        if not kids:
            return
        parent_age = (REFERENCE_DATE - parent_dob).days // 365
        kid_low = 16
        kid_high = max(kid_low + 1, parent_age - 21)
        if with_twins:
            dob = _dob_for_age(rng, kid_low, kid_high)
            a = self.person(rng.choice("fm"), surname, dob, address, area, names)
            same_phone = rng.random() < 0.5
            domain = self.people[a].email.split("@")[1] if rng.random() < 0.7 else None
            b = self.person(
                rng.choice("fm"),
                surname,
                dob,
                address,
                area,
                names,
                phone=self.people[a].phone if same_phone else None,
                email_domain=domain,
            )
            self.twins.append((a, b))
            kids -= 2
        for _ in range(kids):
            self.person(
                rng.choice("fm"),
                surname,
                _dob_for_age(rng, kid_low, kid_high),
                address,
                area,
                names,
            )


def make_population(n: int, rng: Random) -> Population:
    """``n`` people in households; about ``TWIN_SHARE`` of them twins (one pair at least
    once ``n >= 4``). Entity ids ``E000001...`` are assigned in a shuffled order so they
    reveal nothing about households."""
    b = _Builder(rng)
    pairs = max(1, round(n * TWIN_SHARE / 2)) if n >= 4 else 0
    for _ in range(pairs):
        if len(b.people) + 4 > n:
            break
        b.household_of(rng.choice((3, 4, 4)), with_twins=True)
    while len(b.people) < n:
        room = n - len(b.people)
        size = rng.choices((1, 2, 3, 4), (40, 32, 14, 14))[0]
        b.household_of(min(size, room), with_twins=False)
    order = list(range(len(b.people)))
    rng.shuffle(order)
    width = max(6, len(str(n)))
    ids = {old: f"E{new + 1:0{width}d}" for new, old in enumerate(order)}
    people = tuple(replace(b.people[old], entity_id=ids[old]) for old in order)
    return Population(people, tuple((ids[a], ids[c]) for a, c in b.twins))
