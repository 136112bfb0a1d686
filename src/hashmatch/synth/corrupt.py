"""The corruption model: how one party's copy of a person drifts from the truth.

Two layers. ``Corruptor.observe`` works on *values* before a party formats them: life
events (a married name, a move, a new e-mail: drawn once per person, so two parties that
both saw the move agree on the new address), nicknames, swapped names, typos, OCR slips,
accents, gmail aliases, day/month mix-ups and a few deliberately invalid values.
``Corruptor.noise_cells`` then works on the formatted *cells*: blanks and placeholders,
case and whitespace noise. Every rate is per eligible record (per cell for the cell
layer), and ``CorruptionStats`` counts what was eligible and what was applied, so tests
can check the rates and a reader can see what the data went through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from random import Random

from anyascii import anyascii

from hashmatch.synth.people import (
    REFERENCE_DATE,
    Address,
    EmailBook,
    NameBank,
    Person,
    new_address,
    nickname_for,
)


@dataclass(frozen=True)
class CorruptionRates:
    """Probabilities of each corruption (per eligible record unless noted)."""

    typo: float = 0.10  # one insert/delete/substitute/transpose/keyboard slip in a text value
    ocr: float = 0.02  # an OCR confusion (rn/m, l/1, O/0...) in a name or street
    nickname: float = 0.10  # given name -> a nickname (Bill for William), if one exists
    swap_names: float = 0.02  # first and last name swapped
    married_name: float = 0.15  # women 22+: the surname is a previous (maiden) name
    moved: float = 0.08  # the person's other (previous or new) address
    new_email: float = 0.08  # the person's other e-mail address
    email_alias: float = 0.25  # gmail addresses: dots moved, +tag or googlemail.com
    accents: float = 0.04  # accents added to / stripped from a first name or surname
    date_swap: float = 0.04  # day and month swapped (dates with both <= 12)
    invalid: float = 0.01  # an impossible date, a phone number with a digit missing...
    duplicate: float = 0.02  # the person entered a second time in the same party
    missing: float = 0.03  # per cell: blank or a placeholder such as "N/A"
    case: float = 0.06  # per cell: UPPER / lower / Title case
    whitespace: float = 0.03  # per cell: stray or doubled spaces


@dataclass
class CorruptionStats:
    """How many records (cells, for the cell layer) were eligible and corrupted, by kind."""

    eligible: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)

    def rate(self, kind: str) -> float:
        return self.applied[kind] / self.eligible[kind] if self.eligible[kind] else 0.0


@dataclass
class Observed:
    """One party's view of a person, before formatting. ``dob`` is (year, month, day) and
    may be impossible on purpose; ``invalid`` lists the schema fields made invalid."""

    given: str
    middle: str
    surname: str
    gender: str
    dob: tuple[int, int, int]
    email: str
    phone: str  # E.164 digits (possibly broken on purpose)
    address: Address
    invalid: set[str] = field(default_factory=set)


#: Text values a typo or OCR slip may hit, by schema field.
_TEXT_FIELDS = ("first_name", "last_name", "email", "address")

_PLACEHOLDERS = ("N/A", "n/a", "unknown", "UNKNOWN", "-", "NULL", "none", "?", "not given")

_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_KEYBOARD):
    for _c, _ch in enumerate(_row):
        near = [_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)]
        for _dr in (-1, 1):
            if 0 <= _r + _dr < len(_KEYBOARD):
                other = _KEYBOARD[_r + _dr]
                near += [other[i] for i in (_c - 1, _c, _c + 1) if 0 <= i < len(other)]
        _NEIGHBOURS[_ch] = "".join(near)

_OCR = (
    ("rn", "m"),
    ("m", "rn"),
    ("l", "1"),
    ("o", "0"),
    ("O", "0"),
    ("S", "5"),
    ("B", "8"),
    ("I", "l"),
    ("cl", "d"),
    ("e", "c"),
    ("h", "b"),
    ("g", "q"),
    ("u", "v"),
)

_ACCENTED = {"e": "é", "a": "á", "o": "ö", "u": "ü", "i": "í", "n": "ñ", "c": "ç"}


def typo(text: str, rng: Random) -> str:
    """One random edit: insert, delete, substitute, transpose or a keyboard neighbour."""
    if len(text) < 2:
        return text + rng.choice("aeiou")
    i = rng.randrange(len(text))
    kind = rng.random()
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind < 0.2:
        return text[:i] + rng.choice(letters) + text[i:]
    if kind < 0.4:
        return text[:i] + text[i + 1 :]
    if kind < 0.6:
        return text[:i] + rng.choice(letters) + text[i + 1 :]
    if kind < 0.8:
        i = min(i, len(text) - 2)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    near = _NEIGHBOURS.get(text[i].lower())
    if not near:
        return text[:i] + text[i + 1 :]
    sub = rng.choice(near)
    return text[:i] + (sub.upper() if text[i].isupper() else sub) + text[i + 1 :]


def ocr(text: str, rng: Random) -> str:
    """One OCR-style confusion, if the text has anything confusable."""
    options = [(a, b) for a, b in _OCR if a in text]
    if not options:
        return typo(text, rng)
    a, b = rng.choice(options)
    starts = [i for i in range(len(text)) if text.startswith(a, i)]
    i = rng.choice(starts)
    return text[:i] + b + text[i + len(a) :]


def toggle_accents(text: str, rng: Random) -> str:
    """Strip accents when there are some, otherwise add one."""
    if anyascii(text) != text:
        return anyascii(text)
    spots = [i for i, c in enumerate(text) if c in _ACCENTED]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + _ACCENTED[text[i]] + text[i + 1 :]


def gmail_alias(email: str, rng: Random) -> str:
    """The same gmail mailbox written differently (what gmail itself ignores)."""
    local, domain = email.split("@", 1)
    style = rng.random()
    if style < 0.4:
        plain = local.replace(".", "")
        i = rng.randint(1, max(1, len(plain) - 1))
        local = plain[:i] + "." + plain[i:] if local == plain else plain
    elif style < 0.8:
        local = f"{local}+{rng.choice(('shop', 'news', 'promo', 'bank', 'x'))}"
    else:
        domain = "googlemail.com"
    return f"{local}@{domain}"


class Corruptor:
    """Applies ``CorruptionRates`` to people, one party record at a time.

    Life-event alternatives (previous surname, other address, other e-mail) are drawn
    once per person up front, in population order, so they are the same whichever
    party sees them and whichever parties are generated.
    """

    def __init__(
        self, rates: CorruptionRates, seed: int, bank: NameBank, people: Sequence[Person]
    ) -> None:
        self.rates = rates
        self.stats = CorruptionStats()
        rng = Random(f"hashmatch-synth/{seed}/alternatives")
        emails = EmailBook(rng, bank)
        emails.used.update(p.email for p in people)  # never someone else's address
        self._alt = {p.entity_id: self._alternatives(p, rng, bank, emails) for p in people}

    @staticmethod
    def _alternatives(
        person: Person, rng: Random, bank: NameBank, emails: EmailBook
    ) -> tuple[str, Address, str]:
        maiden = bank.surnames.draw(rng)
        while maiden == person.surname:
            maiden = bank.surnames.draw(rng)
        if rng.random() < 0.15:  # or the double-barrelled form some records carry
            maiden = f"{maiden}-{person.surname}"
        surname = maiden if rng.random() < 0.3 else person.surname
        email = emails.address(person.given, person.middle, surname, person.dob)
        return maiden, new_address(rng, bank), email

    def chance(self, kind: str, rate: float, rng: Random) -> bool:
        """Draw one corruption of ``kind`` for an eligible record, counting both."""
        self.stats.eligible[kind] += 1
        hit = rng.random() < rate
        if hit:
            self.stats.applied[kind] += 1
        return hit

    def observe(
        self,
        person: Person,
        fields: frozenset[str],
        rng: Random,
        *,
        year_only: bool = False,
        force_change: bool = False,
    ) -> Observed:
        """A party's record of ``person``, over the schema ``fields`` the party holds.

        ``year_only``: the party keeps only the birth year, so an invalid date must be
        an impossible year. ``force_change`` guarantees at least one typo (used for
        within-party duplicates, which should differ slightly from the first entry).
        """
        r = self.rates
        d = person.dob
        obs = Observed(
            person.given,
            person.middle,
            person.surname,
            person.gender,
            (d.year, d.month, d.day),
            person.email,
            person.phone,
            person.address,
        )
        maiden, other_address, other_email = self._alt[person.entity_id]
        age = (REFERENCE_DATE - d).days // 365
        if (
            "last_name" in fields
            and person.gender == "f"
            and age >= 22
            and self.chance("married_name", r.married_name, rng)
        ):
            obs.surname = maiden
        if fields & {"address", "city", "postcode"} and self.chance("moved", r.moved, rng):
            obs.address = other_address
        if "email" in fields and self.chance("new_email", r.new_email, rng):
            obs.email = other_email
        if "first_name" in fields:
            nick = nickname_for(obs.given, rng)
            if nick and self.chance("nickname", r.nickname, rng):
                obs.given = nick.capitalize()
        if fields >= {"first_name", "last_name"} and self.chance("accents", r.accents, rng):
            # Systems that cannot store accents drop them (Peña -> Pena); others add some.
            if anyascii(obs.surname) != obs.surname or rng.random() < 0.5:
                obs.surname = toggle_accents(obs.surname, rng)
            else:
                obs.given = toggle_accents(obs.given, rng)
        if fields >= {"first_name", "last_name"} and self.chance("swap_names", r.swap_names, rng):
            obs.given, obs.surname = obs.surname, obs.given
        if (
            "email" in fields
            and obs.email.endswith("@gmail.com")
            and self.chance("email_alias", r.email_alias, rng)
        ):
            obs.email = gmail_alias(obs.email, rng)
        text_fields = [f for f in _TEXT_FIELDS if f in fields]
        if text_fields and (self.chance("typo", r.typo, rng) or force_change):
            self._edit(obs, rng.choice(text_fields), typo, rng)
        if text_fields and self.chance("ocr", r.ocr, rng):
            self._edit(
                obs, rng.choice([f for f in text_fields if f != "email"] or text_fields), ocr, rng
            )
        if "date_of_birth" in fields and not year_only:
            y, m, dd = obs.dob
            if m <= 12 and dd <= 12 and m != dd and self.chance("date_swap", r.date_swap, rng):
                obs.dob = (y, dd, m)
        breakable = [f for f in ("date_of_birth", "phone", "email") if f in fields]
        if breakable and self.chance("invalid", r.invalid, rng):
            self._break(obs, rng.choice(breakable), rng, year_only)
        return obs

    @staticmethod
    def _edit(obs: Observed, name: str, edit: Callable[[str, Random], str], rng: Random) -> None:
        if name == "first_name":
            obs.given = edit(obs.given, rng)
        elif name == "last_name":
            obs.surname = edit(obs.surname, rng)
        elif name == "email":
            local, domain = obs.email.split("@", 1)
            obs.email = f"{edit(local, rng)}@{domain}"
        else:
            obs.address = replace(obs.address, street=edit(obs.address.street, rng))

    @staticmethod
    def _break(obs: Observed, name: str, rng: Random, year_only: bool) -> None:
        """Make one value impossible, so the normalisers' reject paths get exercised."""
        obs.invalid.add(name)
        if name == "date_of_birth":
            y, m, _ = obs.dob
            future = (REFERENCE_DATE.year + rng.randint(20, 60), m, 1)
            obs.dob = (
                future
                if year_only
                else rng.choice(((y, 2, 30), (y, 2, 31), (y, 4, 31), (y, 13, 1), future))
            )
        elif name == "phone":
            i = rng.randrange(3, len(obs.phone))
            obs.phone = obs.phone[:i] + obs.phone[i + 1 :]
        else:
            obs.email = obs.email.replace("@", rng.choice((" at ", "", "@@")), 1)

    def noise_cells(self, row: dict[str, str], rng: Random) -> list[str]:
        """Cell noise in place; returns the columns blanked or set to a placeholder."""
        r = self.rates
        blanked = []
        for column, value in row.items():
            if self.chance("missing", r.missing, rng):
                row[column] = "" if rng.random() < 0.6 else rng.choice(_PLACEHOLDERS)
                blanked.append(column)
                continue
            if self.chance("case", r.case, rng):
                value = rng.choice((str.upper, str.lower, str.title))(value)
            if self.chance("whitespace", r.whitespace, rng):
                style = rng.random()
                if style < 0.4:
                    value = f" {value}"
                elif style < 0.8:
                    value = f"{value}  "
                else:
                    value = value.replace(" ", "  ", 1) if " " in value else f"{value} "
            row[column] = value
        return blanked
