"""Campaign pages: the call results a campaign allows, and which import made a client.

``campaigns.disposition_codes``: the codes of the results an operator may pick after a
campaign's call (empty = every active result). ``contacts.import_id``: the CSV import
that created the contact, so a finished import can become a dial list. Contacts
imported before this revision have none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column(
            "disposition_codes",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
            comment="results the operator may pick; empty = every active one",
        ),
    )
    op.add_column(
        "contacts",
        sa.Column(
            "import_id",
            sa.BigInteger(),
            nullable=True,
            comment="the CSV import that created it: a dial list can be made of one",
        ),
    )
    op.create_foreign_key(
        "fk_contacts_import_id_contact_imports",
        "contacts",
        "contact_imports",
        ["import_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_contacts_import_id", "contacts", ["import_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_contacts_import_id", table_name="contacts")
    op.drop_constraint("fk_contacts_import_id_contact_imports", "contacts", type_="foreignkey")
    op.drop_column("contacts", "import_id")
    op.drop_column("campaigns", "disposition_codes")
