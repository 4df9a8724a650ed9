"""Initial schema: users, client base, calls, timeline, tasks, deals, dialer, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 05:27:05.948657
"""

# ruff: noqa: E501 - CHECK constraint SQL is kept on one line, as the models render it

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ad_channels",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("utm_source", sa.Text(), nullable=True),
        sa.Column("utm_medium", sa.Text(), nullable=True),
        sa.Column("utm_campaign", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_ad_channels_name")),
    )
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("label_ru", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=True),
        sa.Column("value_type", sa.Text(), server_default="text", nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "entity IN ('contact', 'company')", name=op.f("ck_custom_field_definitions_entity")
        ),
        sa.CheckConstraint(
            "key ~ '^[a-z][a-z0-9_]{0,62}$'", name=op.f("ck_custom_field_definitions_key")
        ),
        sa.CheckConstraint(
            "value_type <> 'choice' OR jsonb_typeof(choices) = 'array'",
            name=op.f("ck_custom_field_definitions_choices"),
        ),
        sa.CheckConstraint(
            "value_type IN ('text', 'number', 'date', 'bool', 'choice')",
            name=op.f("ck_custom_field_definitions_value_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint("entity", "key", name=op.f("uq_custom_field_definitions_entity_key")),
    )
    op.create_table(
        "dispositions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("label_ru", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=True),
        sa.Column("is_success", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "is_dnc",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
            comment="adds the number to do_not_call",
        ),
        sa.Column("needs_callback", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[a-z0-9_]{1,63}$'", name=op.f("ck_dispositions_code")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispositions")),
        sa.UniqueConstraint("code", name=op.f("uq_dispositions_code")),
    )
    op.create_table(
        "pipeline_stages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_won", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_lost", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("NOT (is_won AND is_lost)", name=op.f("ck_pipeline_stages_won_or_lost")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_stages")),
        sa.UniqueConstraint("id", "is_lost", name=op.f("uq_pipeline_stages_id_is_lost")),
        sa.UniqueConstraint("name", name=op.f("uq_pipeline_stages_name")),
    )
    op.create_table(
        "refusal_reasons",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refusal_reasons")),
        sa.UniqueConstraint("name", name=op.f("uq_refusal_reasons_name")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "tracking_numbers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("did_e164", sa.Text(), nullable=False),
        sa.Column("ad_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "did_e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_tracking_numbers_did_e164")
        ),
        sa.ForeignKeyConstraint(
            ["ad_channel_id"],
            ["ad_channels.id"],
            name=op.f("fk_tracking_numbers_ad_channel_id_ad_channels"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_numbers")),
        sa.UniqueConstraint("did_e164", name=op.f("uq_tracking_numbers_did_e164")),
    )
    op.create_index(
        op.f("ix_tracking_numbers_ad_channel_id"),
        "tracking_numbers",
        ["ad_channel_id"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("login", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column(
            "password_hash",
            sa.Text(),
            nullable=False,
            comment="argon2 hash; the password is never kept",
        ),
        sa.Column("role", sa.Text(), server_default="operator", nullable=False),
        sa.Column("language", sa.Text(), server_default="ru", nullable=False),
        sa.Column("time_zone", sa.Text(), server_default="Europe/Moscow", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("extension", sa.Text(), nullable=True, comment="SIP extension, e.g. 101"),
        sa.Column("interface", sa.Text(), nullable=True, comment="device, e.g. PJSIP/op101"),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("extension ~ '^[0-9]{1,15}$'", name=op.f("ck_users_extension")),
        sa.CheckConstraint(
            "interface ~ '^[A-Za-z0-9]+/[A-Za-z0-9_.@:+-]+$'", name=op.f("ck_users_interface")
        ),
        sa.CheckConstraint("language IN ('ru', 'en')", name=op.f("ck_users_language")),
        sa.CheckConstraint("login <> '' AND login !~ '[[:space:]]'", name=op.f("ck_users_login")),
        sa.CheckConstraint(
            "role IN ('operator', 'supervisor', 'manager', 'admin')", name=op.f("ck_users_role")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_users_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("extension", name=op.f("uq_users_extension")),
        sa.UniqueConstraint("interface", name=op.f("uq_users_interface")),
    )
    op.create_index(op.f("ix_users_team_id"), "users", ["team_id"], unique=False)
    op.create_index(
        "uq_users_login_lower", "users", [sa.literal_column("lower(login)")], unique=True
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "app_settings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_app_settings_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "action",
            sa.Text(),
            nullable=False,
            comment="e.g. login, contact.read, export, recording.play",
        ),
        sa.Column("entity_type", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.Text(), nullable=True, comment="text, so any key fits"),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint("action ~ '^[a-z_]+(\\.[a-z_]+)*$'", name=op.f("ck_audit_log_action")),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_actor_id_occurred_at", "audit_log", ["actor_id", "occurred_at"], unique=False
    )
    op.create_index(
        "ix_audit_log_entity_type_entity_id",
        "audit_log",
        ["entity_type", "entity_id"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"], unique=False)
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), server_default="preview", nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("is_advertising", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("caller_id", sa.Text(), nullable=True),
        sa.Column("script", sa.Text(), nullable=True, comment="what the operator says"),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column(
            "retry_delays",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment='seconds per outcome, e.g. {"busy": 600}',
        ),
        sa.Column(
            "calling_windows",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment='per weekday in the lead\'s local time, e.g. {"mon": [["09:00", "21:00"]]}',
        ),
        sa.Column(
            "target_abandon_rate",
            sa.Numeric(precision=5, scale=4),
            server_default=sa.text("0.03"),
            nullable=False,
        ),
        sa.Column("abandon_window", sa.Text(), server_default="24h", nullable=False),
        sa.Column(
            "lines_per_operator",
            sa.Numeric(precision=4, scale=2),
            server_default=sa.text("1"),
            nullable=False,
        ),
        sa.Column("max_lines", sa.Integer(), nullable=True),
        sa.Column("amd_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "abandon_window IN ('24h', '30d')", name=op.f("ck_campaigns_abandon_window")
        ),
        sa.CheckConstraint("caller_id !~ '[[:cntrl:]]'", name=op.f("ck_campaigns_caller_id")),
        sa.CheckConstraint(
            "mode IN ('preview', 'progressive', 'predictive', 'power')",
            name=op.f("ck_campaigns_mode"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'running', 'paused', 'stopped', 'finished')",
            name=op.f("ck_campaigns_status"),
        ),
        sa.CheckConstraint("lines_per_operator > 0", name=op.f("ck_campaigns_lines_per_operator")),
        sa.CheckConstraint("max_attempts >= 1", name=op.f("ck_campaigns_max_attempts")),
        sa.CheckConstraint("max_lines > 0", name=op.f("ck_campaigns_max_lines")),
        sa.CheckConstraint(
            "target_abandon_rate BETWEEN 0 AND 1", name=op.f("ck_campaigns_target_abandon_rate")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_campaigns_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "companies",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tax_id", sa.Text(), nullable=True, comment="ИНН or another tax id"),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("manager_id", sa.BigInteger(), nullable=True, comment="personal manager"),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["users.id"],
            name=op.f("fk_companies_manager_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_index(op.f("ix_companies_manager_id"), "companies", ["manager_id"], unique=False)
    op.create_index(op.f("ix_companies_name"), "companies", ["name"], unique=False)
    op.create_table(
        "do_not_call",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("e164", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("added_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "source", sa.Text(), nullable=True, comment="operator, disposition, import, api..."
        ),
        sa.CheckConstraint("e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_do_not_call_e164")),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["users.id"],
            name=op.f("fk_do_not_call_added_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_call")),
        sa.UniqueConstraint("e164", name=op.f("uq_do_not_call_e164")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"], unique=False
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)
    op.create_table(
        "campaign_operators",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_operators_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_campaign_operators_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_campaign_operators")),
    )
    op.create_index(
        op.f("ix_campaign_operators_user_id"), "campaign_operators", ["user_id"], unique=False
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True, comment="when no split name is known"),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("manager_id", sa.BigInteger(), nullable=True, comment="personal manager"),
        sa.Column("status", sa.Text(), server_default="lead", nullable=False),
        sa.Column("refusal_reason_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "ad_channel_id",
            sa.BigInteger(),
            nullable=True,
            comment="where the first contact came from",
        ),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("time_zone", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status <> 'refused' OR refusal_reason_id IS NOT NULL",
            name=op.f("ck_contacts_refused_has_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('lead', 'client', 'refused')", name=op.f("ck_contacts_status")
        ),
        sa.CheckConstraint(
            "coalesce(display_name, first_name, last_name, middle_name) IS NOT NULL",
            name=op.f("ck_contacts_has_name"),
        ),
        sa.CheckConstraint("merged_into_id <> id", name=op.f("ck_contacts_not_merged_into_self")),
        sa.ForeignKeyConstraint(
            ["ad_channel_id"],
            ["ad_channels.id"],
            name=op.f("fk_contacts_ad_channel_id_ad_channels"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_contacts_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["users.id"],
            name=op.f("fk_contacts_manager_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["contacts.id"],
            name=op.f("fk_contacts_merged_into_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["refusal_reason_id"],
            ["refusal_reasons.id"],
            name=op.f("fk_contacts_refusal_reason_id_refusal_reasons"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_ad_channel_id"), "contacts", ["ad_channel_id"], unique=False)
    op.create_index(op.f("ix_contacts_company_id"), "contacts", ["company_id"], unique=False)
    op.create_index(op.f("ix_contacts_manager_id"), "contacts", ["manager_id"], unique=False)
    op.create_index(
        op.f("ix_contacts_merged_into_id"), "contacts", ["merged_into_id"], unique=False
    )
    op.create_index("ix_contacts_tags", "contacts", ["tags"], unique=False, postgresql_using="gin")
    op.create_table(
        "consents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("e164", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), server_default="advertising", nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=True, comment="web form, call recording, paper..."),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_consents_e164")),
        sa.CheckConstraint("kind IN ('advertising')", name=op.f("ck_consents_kind")),
        sa.CheckConstraint(
            "contact_id IS NOT NULL OR e164 IS NOT NULL", name=op.f("ck_consents_subject")
        ),
        sa.CheckConstraint(
            "revoked_at IS NULL OR revoked_at >= given_at",
            name=op.f("ck_consents_revoked_after_given"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_consents_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_contact_id"), "consents", ["contact_id"], unique=False)
    op.create_index(op.f("ix_consents_e164"), "consents", ["e164"], unique=False)
    op.create_table(
        "contact_emails",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False, comment="stored lower-cased"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "email = lower(email) AND email LIKE '%_@_%'", name=op.f("ck_contact_emails_email")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_emails_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_emails")),
        sa.UniqueConstraint("email", name=op.f("uq_contact_emails_email")),
    )
    op.create_index(
        op.f("ix_contact_emails_contact_id"), "contact_emails", ["contact_id"], unique=False
    )
    op.create_table(
        "contact_phones",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False, comment="as typed or imported"),
        sa.Column("e164", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="mobile", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_contact_phones_e164")),
        sa.CheckConstraint(
            "kind IN ('mobile', 'work', 'home', 'fax', 'other')",
            name=op.f("ck_contact_phones_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_phones_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_phones")),
        sa.UniqueConstraint("e164", name=op.f("uq_contact_phones_e164")),
    )
    op.create_index(
        op.f("ix_contact_phones_contact_id"), "contact_phones", ["contact_id"], unique=False
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.Text(), server_default="RUB", nullable=False),
        sa.Column("stage_id", sa.BigInteger(), nullable=False),
        sa.Column("stage_is_lost", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("refusal_reason_id", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_deals_currency")),
        sa.CheckConstraint(
            "NOT stage_is_lost OR refusal_reason_id IS NOT NULL",
            name=op.f("ck_deals_lost_has_reason"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_deals_amount")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_deals_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_deals_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_deals_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["refusal_reason_id"],
            ["refusal_reasons.id"],
            name=op.f("fk_deals_refusal_reason_id_refusal_reasons"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id", "stage_is_lost"],
            ["pipeline_stages.id", "pipeline_stages.is_lost"],
            name=op.f("fk_deals_stage_id_stage_is_lost_pipeline_stages"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    op.create_index(op.f("ix_deals_company_id"), "deals", ["company_id"], unique=False)
    op.create_index(op.f("ix_deals_contact_id"), "deals", ["contact_id"], unique=False)
    op.create_index(op.f("ix_deals_owner_id"), "deals", ["owner_id"], unique=False)
    op.create_index(
        op.f("ix_deals_refusal_reason_id"), "deals", ["refusal_reason_id"], unique=False
    )
    op.create_index(op.f("ix_deals_stage_id"), "deals", ["stage_id"], unique=False)
    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("phone_raw", sa.Text(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=False),
        sa.Column(
            "time_zone", sa.Text(), nullable=True, comment="of the number; calling windows use it"
        ),
        sa.Column(
            "fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
            comment="imported columns",
        ),
        sa.Column("status", sa.Text(), server_default="new", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.Column("assigned_user_id", sa.BigInteger(), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "locked_by", sa.Text(), nullable=True, comment="dialer instance or user holding it"
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('new', 'in_progress', 'done', 'failed', 'dnc', 'callback', 'unknown')",
            name=op.f("ck_leads_status"),
        ),
        sa.CheckConstraint("(locked_at IS NULL) = (locked_by IS NULL)", name=op.f("ck_leads_lock")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_leads_attempts")),
        sa.CheckConstraint(
            "phone_e164 ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_leads_phone_e164")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"],
            ["users.id"],
            name=op.f("fk_leads_assigned_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_leads_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_leads_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint(
            "campaign_id", "phone_e164", name=op.f("uq_leads_campaign_id_phone_e164")
        ),
    )
    op.create_index(op.f("ix_leads_assigned_user_id"), "leads", ["assigned_user_id"], unique=False)
    op.create_index(
        "ix_leads_campaign_id_status_next_attempt_at",
        "leads",
        ["campaign_id", "status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(op.f("ix_leads_contact_id"), "leads", ["contact_id"], unique=False)
    op.create_index(op.f("ix_leads_phone_e164"), "leads", ["phone_e164"], unique=False)
    op.create_table(
        "calls",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("linkedid", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("caller_number", sa.Text(), nullable=True, comment="CallerIDNum as received"),
        sa.Column("caller_e164", sa.Text(), nullable=True),
        sa.Column("caller_name", sa.Text(), nullable=True),
        sa.Column("did", sa.Text(), nullable=True, comment="the number dialled (DNID / Exten)"),
        sa.Column("tracking_number_id", sa.BigInteger(), nullable=True),
        sa.Column("queue_name", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("answered_by_id", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("result", sa.Text(), server_default="in_progress", nullable=False),
        sa.Column("hangup_cause", sa.SmallInteger(), nullable=True, comment="Q.850 cause code"),
        sa.Column("recording_path", sa.Text(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("disposition_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound', 'internal')", name=op.f("ck_calls_direction")
        ),
        sa.CheckConstraint(
            "result IN ('in_progress', 'answered', 'abandoned', 'missed', 'busy', 'no_answer', 'congestion', 'failed', 'voicemail', 'unknown')",
            name=op.f("ck_calls_result"),
        ),
        sa.CheckConstraint("talk_seconds >= 0", name=op.f("ck_calls_talk_seconds")),
        sa.CheckConstraint("wait_seconds >= 0", name=op.f("ck_calls_wait_seconds")),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["users.id"],
            name=op.f("fk_calls_answered_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_calls_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_calls_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["disposition_id"],
            ["dispositions.id"],
            name=op.f("fk_calls_disposition_id_dispositions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_calls_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tracking_number_id"],
            ["tracking_numbers.id"],
            name=op.f("fk_calls_tracking_number_id_tracking_numbers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_calls_linkedid")),
    )
    op.create_index(op.f("ix_calls_answered_by_id"), "calls", ["answered_by_id"], unique=False)
    op.create_index(op.f("ix_calls_caller_e164"), "calls", ["caller_e164"], unique=False)
    op.create_index(op.f("ix_calls_campaign_id"), "calls", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_calls_contact_id"), "calls", ["contact_id"], unique=False)
    op.create_index(op.f("ix_calls_lead_id"), "calls", ["lead_id"], unique=False)
    op.create_index(op.f("ix_calls_started_at"), "calls", ["started_at"], unique=False)
    op.create_index(
        op.f("ix_calls_tracking_number_id"), "calls", ["tracking_number_id"], unique=False
    )
    op.create_table(
        "deal_stage_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("from_stage_id", sa.BigInteger(), nullable=True),
        sa.Column("to_stage_id", sa.BigInteger(), nullable=False),
        sa.Column("changed_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["users.id"],
            name=op.f("fk_deal_stage_changes_changed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_deal_stage_changes_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_stage_id"],
            ["pipeline_stages.id"],
            name=op.f("fk_deal_stage_changes_from_stage_id_pipeline_stages"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_stage_id"],
            ["pipeline_stages.id"],
            name=op.f("fk_deal_stage_changes_to_stage_id_pipeline_stages"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_changes")),
    )
    op.create_index(
        op.f("ix_deal_stage_changes_deal_id"), "deal_stage_changes", ["deal_id"], unique=False
    )
    op.create_table(
        "call_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("action_id", sa.Text(), nullable=False),
        sa.Column(
            "user_id", sa.BigInteger(), nullable=True, comment="operator the call was meant for"
        ),
        sa.Column(
            "originated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), server_default="pending", nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('pending', 'answered', 'abandoned', 'busy', 'no_answer', 'congestion', 'failed', 'machine', 'unknown')",
            name=op.f("ck_call_attempts_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_attempts_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_call_attempts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_call_attempts_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_call_attempts_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempts")),
        sa.UniqueConstraint("action_id", name=op.f("uq_call_attempts_action_id")),
    )
    op.create_index(op.f("ix_call_attempts_call_id"), "call_attempts", ["call_id"], unique=False)
    op.create_index(
        "ix_call_attempts_campaign_id_originated_at",
        "call_attempts",
        ["campaign_id", "originated_at"],
        unique=False,
    )
    op.create_index(op.f("ix_call_attempts_lead_id"), "call_attempts", ["lead_id"], unique=False)
    op.create_table(
        "call_legs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("uniqueid", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("interface", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), server_default="other", nullable=False),
        sa.Column("rang_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hangup_cause", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('caller', 'agent', 'transfer', 'outbound', 'spy', 'other')",
            name=op.f("ck_call_legs_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_legs_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_legs_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_legs")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_call_legs_uniqueid")),
    )
    op.create_index(op.f("ix_call_legs_call_id"), "call_legs", ["call_id"], unique=False)
    op.create_index(op.f("ix_call_legs_user_id"), "call_legs", ["user_id"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Text(), server_default="todo", nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("deal_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "call_id", sa.BigInteger(), nullable=True, comment="e.g. the abandoned call to return"
        ),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind <> 'callback' OR due_at IS NOT NULL", name=op.f("ck_tasks_callback_has_due_at")
        ),
        sa.CheckConstraint(
            "kind IN ('callback', 'meeting', 'follow_up', 'todo')", name=op.f("ck_tasks_kind")
        ),
        sa.CheckConstraint(
            "status <> 'done' OR done_at IS NOT NULL", name=op.f("ck_tasks_done_has_done_at")
        ),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name=op.f("ck_tasks_status")),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_tasks_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_tasks_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_tasks_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_tasks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_tasks_deal_id_deals"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(
        "ix_tasks_assignee_id_status_due_at",
        "tasks",
        ["assignee_id", "status", "due_at"],
        unique=False,
    )
    op.create_index(op.f("ix_tasks_contact_id"), "tasks", ["contact_id"], unique=False)
    op.create_index(op.f("ix_tasks_deal_id"), "tasks", ["deal_id"], unique=False)
    op.create_index(op.f("ix_tasks_remind_at"), "tasks", ["remind_at"], unique=False)
    op.create_table(
        "interactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("deal_id", sa.BigInteger(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("previous_interaction_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('call', 'note', 'task', 'deal_change', 'status_change', 'web_form', 'email')",
            name=op.f("ck_interactions_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_interactions_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_interactions_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_interactions_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_interactions_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_interactions_deal_id_deals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_interaction_id"],
            ["interactions.id"],
            name=op.f("fk_interactions_previous_interaction_id_interactions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_interactions_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(op.f("ix_interactions_call_id"), "interactions", ["call_id"], unique=False)
    op.create_index(
        op.f("ix_interactions_company_id"), "interactions", ["company_id"], unique=False
    )
    op.create_index(
        "ix_interactions_contact_id_occurred_at",
        "interactions",
        ["contact_id", sa.literal_column("occurred_at DESC")],
        unique=False,
    )
    op.create_index(op.f("ix_interactions_deal_id"), "interactions", ["deal_id"], unique=False)
    op.create_index(
        op.f("ix_interactions_previous_interaction_id"),
        "interactions",
        ["previous_interaction_id"],
        unique=False,
    )
    op.create_index(op.f("ix_interactions_task_id"), "interactions", ["task_id"], unique=False)


def downgrade() -> None:
    # dropping a table drops its indexes and constraints; children before parents
    for table in (
        "interactions",
        "tasks",
        "call_legs",
        "call_attempts",
        "deal_stage_changes",
        "calls",
        "leads",
        "deals",
        "contact_phones",
        "contact_emails",
        "consents",
        "contacts",
        "campaign_operators",
        "web_sessions",
        "do_not_call",
        "companies",
        "campaigns",
        "audit_log",
        "app_settings",
        "api_tokens",
        "users",
        "tracking_numbers",
        "teams",
        "refusal_reasons",
        "pipeline_stages",
        "dispositions",
        "custom_field_definitions",
        "ad_channels",
    ):
        op.drop_table(table)
