"""Client search: by a phone fragment, an e-mail or a piece of a name or company.

What the query looks like decides where to look: digits (with the usual separators) are
a phone fragment, anything with ``@`` an e-mail, anything else a name or a company (and,
when it could be a piece of an address, such as ``romashka.ru``, an e-mail too). A
fragment is found anywhere (``LIKE '%fragment%'``, served by the trigram indexes of
migration 0002); what starts with the query is listed first, and a start is read in order
from a btree (numbers: the unique index of e164; names: migration 0005), so a search stays
within milliseconds on a million contacts however common the fragment. Merged duplicates
are never found: their survivor is. ``only_manager_id`` is one more filter on every path,
for centers where operators see only their own clients.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models.clients import CONTACT_SEARCH_NAME

MIN_QUERY = 2
MIN_PHONE_DIGITS = 3
MAX_QUERY = 100
MAX_LIMIT = 100
# a name query is split into words, each of which must match; more are ignored
MAX_WORDS = 5
# a name query with no word this long matches only the start of a name or a company
MIN_FRAGMENT = 3
# rows each branch of a phone or e-mail query looks at before ranking (see _BY_PHONE)
CANDIDATES = 500

_PHONE_LIKE = re.compile(r"[\d\s()+\-.]+")
# what may be part of an e-mail address: also looked for among the addresses
_ADDRESS_PART = re.compile(r"[a-z0-9][a-z0-9._+-]*", re.IGNORECASE)


@dataclass(frozen=True)
class ClientHit:
    contact_id: int
    name: str
    company: str | None
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    status: str
    manager_name: str | None
    matched_by: str  # "phone", "email", "name" or "company"

    def as_json(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "name": self.name,
            "company": self.company,
            "phones": list(self.phones),
            "emails": list(self.emails),
            "status": self.status,
            "manager_name": self.manager_name,
            "matched_by": self.matched_by,
        }


def _like(fragment: str) -> str:
    return fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def phone_patterns(query: str, region: str) -> tuple[str, str | None, str] | None:
    """LIKE patterns for a phone fragment: (anywhere, national, start); None if not one.

    ``national`` handles a number typed with the trunk prefix: in Russia ``8-495-12`` is
    the start of ``+7495 12…``, so it also matches E.164 numbers starting ``+749512``.
    ``start`` ranks numbers the fragment begins first.
    """
    if not _PHONE_LIKE.fullmatch(query):
        return None
    digits = re.sub(r"\D", "", query)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    national = None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    trunk = metadata.national_prefix if metadata else None
    if trunk and not query.lstrip().startswith("+") and digits.startswith(trunk):
        code = phonenumbers.country_code_for_region(region.upper())
        national = f"+{code}{digits[len(trunk) :]}%"
    return f"%{digits}%", national, f"+{digits}%"


# contacts -> the page: name, company, manager, every phone and e-mail, in one round trip
_DETAILS = """
SELECT c.id, c.first_name, c.last_name, c.middle_name, c.display_name, c.status,
       co.name AS company, m.full_name AS manager_name, h.matched_by,
       (SELECT coalesce(json_agg(p.e164 ORDER BY p.id), '[]')
          FROM contact_phones p WHERE p.contact_id = c.id) AS phones,
       (SELECT coalesce(json_agg(e.email ORDER BY e.id), '[]')
          FROM contact_emails e WHERE e.contact_id = c.id) AS emails
  FROM top h
  JOIN contacts c ON c.id = h.id
  LEFT JOIN companies co ON co.id = c.company_id
  LEFT JOIN users m ON m.id = c.manager_id
 ORDER BY h.rank, h.sort_key COLLATE "C", c.id
"""

# for this transaction only; see search_clients
_PLANNING = """SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
                      set_config('max_parallel_workers_per_gather', '0', true)"""

# merged duplicates and (when asked) other managers' clients are filtered here
_VISIBLE = (
    "c.merged_into_id IS NULL"
    " AND (CAST(:manager_id AS bigint) IS NULL OR c.manager_id = :manager_id)"
)

# A broad fragment ("495") matches a good share of the base: each branch stops after
# CANDIDATES rows, so the work stays bounded and leading matches still come first.
#
# A number typed from its start ("+7 916", "8 (916) 12") is a range on the unique
# btree index of e164: ':' sorts right after '9', so [prefix, prefix + ':') holds
# exactly the numbers that begin with it. Only a bare fragment ("123-45") needs the
# trigram index, which is slow when the fragment is common.
_BY_PHONE = f"""
WITH found AS (
    (SELECT contact_id, e164 FROM contact_phones
      WHERE (e164 >= :start_from AND e164 < :start_to)
         OR (e164 >= :national_from AND e164 < :national_to)
      LIMIT :candidates)
    UNION ALL
    (SELECT contact_id, e164 FROM contact_phones
      WHERE :anywhere <> '' AND e164 LIKE :anywhere LIMIT :candidates)
), hits AS (
    SELECT contact_id AS id,
           min(CASE WHEN e164 LIKE :start OR e164 LIKE :national THEN 0 ELSE 1 END) AS rank,
           min(e164) AS sort_key
      FROM found
     GROUP BY contact_id
), top AS (
    SELECT h.id, h.rank, h.sort_key, 'phone' AS matched_by
      FROM hits h JOIN contacts c ON c.id = h.id
     WHERE {_VISIBLE}
     ORDER BY h.rank, h.sort_key, h.id
     LIMIT :limit
)
{_DETAILS}
"""  # noqa: S608 - constant fragments only; every value is bound

_BY_EMAIL = f"""
WITH top AS (
    SELECT e.contact_id AS id,
           min(CASE WHEN e.email = :exact THEN 0 WHEN e.email LIKE :start THEN 1 ELSE 2 END)
             AS rank,
           min(e.email) AS sort_key, 'email' AS matched_by
      FROM contact_emails e JOIN contacts c ON c.id = e.contact_id
     WHERE e.email LIKE :anywhere AND {_VISIBLE}
     GROUP BY e.contact_id
     ORDER BY rank, sort_key, id
     LIMIT :limit
)
{_DETAILS}
"""  # noqa: S608 - constant fragments only; every value is bound


# A name query reads branches in turn, best matches first, and stops as soon as it has
# enough: names that start with the query (the btree of migration 0005, read in order),
# names that hold each word somewhere (trigrams), then the same two for companies. A
# common fragment ("елена", "овна") fills the page from the first rows it reads; a rare
# one is a short trigram list; the later branches only run when the earlier fall short.
# Each branch leaves out what an earlier one lists, so a contact found by both its name
# and its company is listed once, as a name match.
_NAME = CONTACT_SEARCH_NAME  # as indexed, so the indexes serve it
_COMPANY = "lower(co.name)"


def _all_words_in(expression: str, words: int) -> str:
    return " AND ".join(f"{expression} LIKE :w{i}" for i in range(words))


@functools.cache
def _by_name(words: int, inside: bool) -> str:
    """The name query for ``words`` words; ``inside``: look inside names, not only at starts."""
    name_has_words = _all_words_in(_NAME, words)
    listed = name_has_words if inside else f"{_NAME} LIKE :start"
    branches = [
        # a range, not LIKE: no trigram index can serve it, so the planner never trades
        # this ordered read, which stops after :limit rows, for a trigram scan and a sort
        f"""SELECT c.id, {_NAME} AS key, 0 AS rank, 'name' AS matched_by FROM contacts c
             WHERE {_NAME} ~>=~ :start_from AND {_NAME} ~<~ :start_to AND {_VISIBLE}
             ORDER BY {_NAME} USING ~<~ LIMIT :limit""",  # noqa: S608
        f"""SELECT c.id, {_NAME}, 1, 'name' FROM contacts c
             WHERE {name_has_words} AND NOT {_NAME} LIKE :start AND {_VISIBLE}
             LIMIT :limit""",  # noqa: S608
        f"""SELECT c.id, {_COMPANY}, 2, 'company'
              FROM companies co JOIN contacts c ON c.company_id = co.id
             WHERE {_COMPANY} LIKE :start AND NOT ({listed}) AND {_VISIBLE}
             LIMIT :limit""",  # noqa: S608
        f"""SELECT c.id, {_COMPANY}, 3, 'company'
              FROM companies co JOIN contacts c ON c.company_id = co.id
             WHERE {_all_words_in(_COMPANY, words)} AND NOT {_COMPANY} LIKE :start
               AND NOT ({listed}) AND {_VISIBLE}
             LIMIT :limit""",  # noqa: S608
    ]
    if not inside:
        del branches[3], branches[1]
    found = "\n     UNION ALL\n".join(f"({branch})" for branch in branches)
    # no ORDER BY here: the branches are read in turn until LIMIT has its rows
    return f"""
WITH top AS (
    SELECT id, rank, key AS sort_key, matched_by FROM (
{found}
    ) found
    LIMIT :limit
)
{_DETAILS}
"""  # noqa: S608 - constant fragments only; every value is bound


def _after(prefix: str) -> str:
    """The first string after every string that starts with ``prefix`` (code point order,
    which is PostgreSQL's ``~<~``): ``смир`` -> ``смис``."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are no characters of a text
        last = 0xE000
    if last > sys.maxunicode:
        return _after(prefix[:-1]) if len(prefix) > 1 else chr(sys.maxunicode)
    return prefix[:-1] + chr(last)


def _name(row: Any) -> str:
    parts = (row.last_name, row.first_name, row.middle_name)
    return row.display_name or " ".join(p for p in parts if p) or "—"


def _json(value: Any) -> Any:
    # asyncpg hands json columns over as text
    return json.loads(value) if isinstance(value, str) else value


async def search_clients(
    session: AsyncSession,
    query: str,
    *,
    region: str,
    limit: int = 20,
    only_manager_id: int | None = None,
) -> list[ClientHit]:
    """Clients matching ``query``, best first: exact and leading matches, then the rest.

    Too short a query (under 2 characters, under 3 digits for a phone) finds nothing; a
    name query with no word of 3 letters finds only names and companies that start with
    it. ``only_manager_id`` keeps only that manager's clients.
    """
    query = " ".join(query.split())[:MAX_QUERY]
    limit = max(1, min(limit, MAX_LIMIT))
    if len(query) < MIN_QUERY:
        return []
    params: dict[str, Any] = {
        "limit": limit,
        "manager_id": only_manager_id,
        "candidates": CANDIDATES,
    }
    phone = phone_patterns(query, region)
    if phone is None and _PHONE_LIKE.fullmatch(query):
        return []  # looks like a number, but too few digits to mean anything
    # A plan prepared once for any value (PostgreSQL switches to one after a few runs of a
    # statement) can tell neither a common fragment from a rare one nor a search with a
    # manager from one without: plan every search for its own values. And no parallel
    # plans: the name query relies on its branches being read in turn.
    await session.execute(text(_PLANNING))
    if phone is not None:
        anywhere, national, start = phone
        params.update(
            start=start,
            national=national or "",
            start_from=start.rstrip("%"),
            start_to=start.rstrip("%") + ":",
            national_from=(national or "").rstrip("%"),
            national_to=(national or "").rstrip("%") + (":" if national else ""),
            # typed from the start of the number: its start is all that is meant
            anywhere="" if national or query.startswith("+") else anywhere,
        )
        rows = await session.execute(text(_BY_PHONE), params)
    elif "@" in query:
        rows = await session.execute(text(_BY_EMAIL), _email_params(params, query))
    else:
        lowered = query.lower()
        words = lowered.split()[:MAX_WORDS]
        params.update(start=_like(lowered) + "%", start_from=lowered, start_to=_after(lowered))
        params.update({f"w{i}": f"%{_like(word)}%" for i, word in enumerate(words)})
        # a fragment shorter than MIN_FRAGMENT has no trigram to be looked up by
        inside = any(len(word) >= MIN_FRAGMENT for word in words)
        hits = _hits(await session.execute(text(_by_name(len(words), inside)), params))
        if len(hits) < limit and len(query) >= MIN_FRAGMENT and _ADDRESS_PART.fullmatch(query):
            # "romashka.ru", "ivanov": a piece of an address typed without its "@"
            shown = {hit.contact_id for hit in hits}
            more = _hits(await session.execute(text(_BY_EMAIL), _email_params(params, query)))
            hits += [hit for hit in more if hit.contact_id not in shown][: limit - len(hits)]
        return hits
    return _hits(rows)


def _email_params(params: dict[str, Any], query: str) -> dict[str, Any]:
    lowered = query.lower().replace(" ", "")
    return {
        **params,
        "exact": lowered,
        "start": _like(lowered) + "%",
        "anywhere": f"%{_like(lowered)}%",
    }


def _hits(rows: Any) -> list[ClientHit]:
    return [
        ClientHit(
            contact_id=row.id,
            name=_name(row),
            company=row.company,
            phones=tuple(_json(row.phones)),
            emails=tuple(_json(row.emails)),
            status=row.status,
            manager_name=row.manager_name,
            matched_by=row.matched_by,
        )
        for row in rows
    ]
