"""Client search: pg_trgm and trigram indexes on names, companies, phones and e-mails.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as callcenter.models.clients.CONTACT_SEARCH_NAME (frozen here: a migration never
# imports the models); "last first middle display", lower-cased
CONTACT_SEARCH_NAME = (
    "lower((((((COALESCE(last_name, ''::text) || ' '::text) || COALESCE(first_name, ''::text))"
    " || ' '::text) || COALESCE(middle_name, ''::text)) || ' '::text)"
    " || COALESCE(display_name, ''::text))"
)

INDEXES = [
    ("ix_contacts_search_name_trgm", "contacts", CONTACT_SEARCH_NAME),
    ("ix_companies_name_trgm", "companies", "lower(name)"),
    ("ix_contact_phones_e164_trgm", "contact_phones", "e164"),
    ("ix_contact_emails_email_trgm", "contact_emails", "email"),
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (({expression}) gin_trgm_ops)")


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
