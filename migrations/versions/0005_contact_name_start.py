"""Client search: a btree on the search name, for names that start with the query.

The trigram index of 0002 finds a fragment anywhere, but it must read every row that
holds the fragment's trigrams before the first one comes back: for a common start
("смир", "ива") that is tens of thousands of rows on a million contacts. This btree
reads the names that start with the query in order and stops after a page of them.
``text_pattern_ops``: byte order, whatever the database's collation, so a prefix is a
range of it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as callcenter.models.clients.CONTACT_SEARCH_NAME (frozen here, as in 0002)
CONTACT_SEARCH_NAME = (
    "lower((((((COALESCE(last_name, ''::text) || ' '::text) || COALESCE(first_name, ''::text))"
    " || ' '::text) || COALESCE(middle_name, ''::text)) || ' '::text)"
    " || COALESCE(display_name, ''::text))"
)


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_contacts_search_name_start ON contacts"
        f" USING btree (({CONTACT_SEARCH_NAME}) text_pattern_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_contacts_search_name_start")
