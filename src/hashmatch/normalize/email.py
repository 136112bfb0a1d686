"""E-mail normalisation: trim, lower-case, syntax check, provider rules, placeholders.

Canonical form ``local@domain`` in lower case. With ``provider_rules`` (the default) the
UID2 normalisation rules apply: for ``gmail.com`` the dots of the local part and
everything from the first ``+`` are removed, and ``googlemail.com`` (Gmail's other
domain) becomes ``gmail.com``; every other domain is left as written, since other
providers treat dots and tags differently. No DNS look-up: a syntactically valid
address at a dead domain is still a fine identifier for linkage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import ColumnSource, InvalidValue, MissingValue, with_batch_path
from hashmatch.normalize._shapes import email_canonicals

# dot-atom local part (RFC 5322 without quoted strings, which no real customer uses) and
# a host name of at least two labels whose top-level label is alphabetic or punycode.
_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TLD = r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
_EMAIL_RE = re.compile(rf"({_LOCAL})@((?:{_LABEL}\.)+{_TLD})")
_MAX_LOCAL, _MAX_TOTAL = 64, 254

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
#: RFC 2606 / RFC 6761 reserved top-level names: never a real mailbox.
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
_LOCAL_PLACEHOLDERS = placeholders.table("email_local")
_DOMAIN_PLACEHOLDERS = placeholders.table("email_domain")


def _domain_rule(domain: str) -> str | None:
    rule = _DOMAIN_PLACEHOLDERS.get(domain)
    if rule is not None:
        return rule
    tld = domain.rpartition(".")[2]
    if tld in _RESERVED_TLDS:
        return "reserved_domain"
    # subdomains of example.com/org/net are reserved too
    parent = domain.split(".", 1)[1] if domain.count(".") > 1 else ""
    return "reserved_domain" if parent.startswith("example.") else None


def make_email_normalizer(options: Mapping[str, Any], source: ColumnSource) -> Callable[[str], str]:
    """The normaliser of an ``email`` field."""
    provider_rules = bool(options.get("provider_rules", True))
    match = _EMAIL_RE.fullmatch
    check = placeholders.check

    def normalize_email(raw: str) -> str:
        text = raw.strip().lower()
        if text.startswith("mailto:"):
            text = text[7:].lstrip()
        check(text)
        if not text.isascii():
            # Internationalised addresses are rare in customer files and have no single
            # canonical form across providers; refusing them beats guessing.
            raise InvalidValue("email.syntax")
        m = match(text)
        if m is None or len(text) > _MAX_TOTAL or len(m[1]) > _MAX_LOCAL:
            raise InvalidValue("email.syntax")
        local, domain = m[1], m[2]
        rule = _LOCAL_PLACEHOLDERS.get(local.split("+", 1)[0]) or _domain_rule(domain)
        if rule is not None:
            raise MissingValue("placeholder", rule)
        if provider_rules and domain in _GMAIL_DOMAINS:
            local = local.split("+", 1)[0].replace(".", "")
            if not local:
                raise InvalidValue("email.syntax")
            domain = "gmail.com"
            # the canonical form may be a placeholder the written one was not ("x.+@"):
            # checked again, so that normalising twice gives what normalising once gave
            rule = _LOCAL_PLACEHOLDERS.get(local)
            if rule is not None:
                raise MissingValue("placeholder", rule)
        return f"{local}@{domain}"

    tables = (
        placeholders.safe_start_table(),
        dict(placeholders.table("any")),
        dict(_LOCAL_PLACEHOLDERS),
        dict(_DOMAIN_PLACEHOLDERS),
        _RESERVED_TLDS,
        _GMAIL_DOMAINS,
    )

    def batch(values: list[str]) -> list[str | None]:
        return email_canonicals(values, provider_rules, *tables)

    return with_batch_path(normalize_email, batch)
