"""The whole data model. Import from here so every table is registered on ``Base.metadata``.

Conventions: bigint identity keys; enumerations are text columns with CHECK constraints
(the allowed values are the ``StrEnum`` classes below); timestamps are timestamptz;
people are deactivated rather than deleted. Relationships use ``lazy="raise"``: with an
async session, load them explicitly (``selectinload``).
"""

from callcenter.models.app_settings import AppSetting
from callcenter.models.audit import AuditEntry
from callcenter.models.base import NAMING_CONVENTION, Base
from callcenter.models.calls import Call, CallDirection, CallLeg, CallResult, Disposition, LegKind
from callcenter.models.campaigns import (
    AbandonWindow,
    AttemptOutcome,
    CallAttempt,
    Campaign,
    CampaignOperator,
    CampaignStatus,
    DialMode,
    Lead,
    LeadStatus,
)
from callcenter.models.clients import (
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    ContactStatus,
    PhoneKind,
)
from callcenter.models.compliance import Consent, ConsentKind, DoNotCall
from callcenter.models.custom_fields import (
    CustomFieldDefinition,
    CustomFieldEntity,
    CustomFieldType,
)
from callcenter.models.deals import Deal, DealStageChange, PipelineStage, RefusalReason
from callcenter.models.imports import ContactImport, ImportStatus
from callcenter.models.interactions import Interaction, InteractionKind
from callcenter.models.marketing import AdChannel, TrackingNumber
from callcenter.models.reports import CallHourTotal, OperatorHourTotal, OperatorStateSpan
from callcenter.models.segments import Segment
from callcenter.models.tasks import Task, TaskKind, TaskStatus
from callcenter.models.users import ApiToken, Language, Role, Team, User, WebSession
from callcenter.models.web_forms import WebFormSite

__all__ = [
    "NAMING_CONVENTION",
    "AbandonWindow",
    "AdChannel",
    "ApiToken",
    "AppSetting",
    "AttemptOutcome",
    "AuditEntry",
    "Base",
    "Call",
    "CallAttempt",
    "CallDirection",
    "CallHourTotal",
    "CallLeg",
    "CallResult",
    "Campaign",
    "CampaignOperator",
    "CampaignStatus",
    "Company",
    "Consent",
    "ConsentKind",
    "Contact",
    "ContactEmail",
    "ContactImport",
    "ContactPhone",
    "ContactStatus",
    "CustomFieldDefinition",
    "CustomFieldEntity",
    "CustomFieldType",
    "Deal",
    "DealStageChange",
    "DialMode",
    "Disposition",
    "DoNotCall",
    "ImportStatus",
    "Interaction",
    "InteractionKind",
    "Language",
    "Lead",
    "LeadStatus",
    "LegKind",
    "OperatorHourTotal",
    "OperatorStateSpan",
    "PhoneKind",
    "PipelineStage",
    "RefusalReason",
    "Role",
    "Segment",
    "Task",
    "TaskKind",
    "TaskStatus",
    "Team",
    "TrackingNumber",
    "User",
    "WebFormSite",
    "WebSession",
]
