"""Clients' region and time zone from their first phone, for clients who have none yet.

From now on every path that adds phones fills them (callcenter.contact_geography);
this fills the clients stored before. A value someone set is kept. Batches of
contacts in id order, each one statement, so a big base never sits in memory.
The same reading as callcenter.phone_geography, frozen here as migrations are:
the geocoder's Russian description, and the time zone only when there is exactly one.

Downgrade leaves the values: a filled one cannot be told from a typed one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:00:00.000000
"""

from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op
from phonenumbers import geocoder, timezone

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

NEXT_BATCH = sa.text(
    """SELECT c.id, (SELECT p.e164 FROM contact_phones p WHERE p.contact_id = c.id
                    ORDER BY p.id LIMIT 1) AS e164
       FROM contacts c
       WHERE c.id > :after
         AND (c.region IS NULL OR c.region = '' OR c.time_zone IS NULL OR c.time_zone = '')
       ORDER BY c.id LIMIT :batch"""
)
FILL = sa.text(
    """UPDATE contacts c
       SET region = coalesce(nullif(c.region, ''), v.region),
           time_zone = coalesce(nullif(c.time_zone, ''), v.time_zone)
       FROM unnest(CAST(:ids AS bigint[]), CAST(:regions AS text[]), CAST(:zones AS text[]))
            AS v(id, region, time_zone)
       WHERE c.id = v.id"""
)


def _place(e164: str) -> tuple[str | None, str | None]:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None, None
    region = geocoder.description_for_number(number, "ru") or None
    zones = timezone.time_zones_for_number(number)
    zone = zones[0] if len(zones) == 1 and zones[0] != "Etc/Unknown" else None
    if zone == "Europe/Bucharest" and number.country_code == 7:
        zone = "Europe/Kaliningrad"  # phonenumbers' Kaliningrad keeps Romania's summer time
    return region, zone


def upgrade() -> None:
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(NEXT_BATCH, {"after": after, "batch": BATCH}).all()
        if not rows:
            return
        after = rows[-1].id
        ids, regions, zones = [], [], []
        for contact_id, e164 in rows:
            region, zone = _place(e164) if e164 else (None, None)
            if region or zone:
                ids.append(contact_id)
                regions.append(region)
                zones.append(zone)
        if ids:
            connection.execute(FILL, {"ids": ids, "regions": regions, "zones": zones})


def downgrade() -> None:
    pass
