"""Which dialer attempt a call belongs to: the channel variables its Originate set.

The dialer's Originate sets them with a ``__`` prefix, so every leg of the call
carries them and the tracker collects them in ``TrackedCall.variables``. The call
log links the call row to its campaign and lead with them; the dialer engine
matches the call to its attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.call_script import lead_script
from callcenter.models import Campaign, Company, Contact, Lead

CAMPAIGN_VARIABLE = "CALLCENTER_CAMPAIGN"
LEAD_VARIABLE = "CALLCENTER_LEAD"
ATTEMPT_VARIABLE = "CALLCENTER_ATTEMPT"
# set by the dial plan when no operator talked to the customer: "machine" or "abandoned"
RESULT_VARIABLE = "CALLCENTER_RESULT"
AMD_VARIABLE = "CALLCENTER_AMD"
# a callback agreed with one operator: the dial plan rings that phone, not the queue
OPERATOR_VARIABLE = "CALLCENTER_OPERATOR"


@dataclass(frozen=True)
class DialerCall:
    campaign_id: int
    lead_id: int
    attempt: str
    """The attempt's action id."""


def dialer_call(variables: Mapping[str, str]) -> DialerCall | None:
    """The attempt a call's variables name, or None (not a dialer call, or garbled)."""
    campaign, lead = variables.get(CAMPAIGN_VARIABLE, ""), variables.get(LEAD_VARIABLE, "")
    attempt = variables.get(ATTEMPT_VARIABLE, "")
    if not (campaign.isdigit() and lead.isdigit() and attempt) or len(campaign + lead) > 18:
        return None
    return DialerCall(int(campaign), int(lead), attempt)


def originate_variables(campaign_id: int, lead_id: int, attempt: str) -> dict[str, str]:
    """The variables of a dialer Originate, inherited by every leg (``__``)."""
    return {
        f"__{CAMPAIGN_VARIABLE}": str(campaign_id),
        f"__{LEAD_VARIABLE}": str(lead_id),
        f"__{ATTEMPT_VARIABLE}": attempt,
    }


async def campaign_pop(
    session: AsyncSession, call: DialerCall, operator_name: str
) -> dict[str, Any] | None:
    """What the operator's screen-pop adds for a dialer call: the campaign, its script
    filled in for this lead, and where to write the lead's result after the talk."""
    # one round trip: the operator's phone is ringing
    found = (
        await session.execute(
            select(Campaign.name, Campaign.script, Lead, Contact, Company.name)
            .join(Lead, Lead.campaign_id == Campaign.id)
            .outerjoin(Contact, Contact.id == Lead.contact_id)
            .outerjoin(Company, Company.id == Contact.company_id)
            .where(Campaign.id == call.campaign_id, Lead.id == call.lead_id)
        )
    ).one_or_none()
    if found is None:
        return None
    name, script, lead, contact, company = found
    return {
        "id": call.campaign_id,
        "name": name,
        "lead_id": call.lead_id,
        "script": lead_script(script, lead, operator_name, contact, company),
        "result_url": f"/campaigns/{call.campaign_id}/leads/{call.lead_id}/result",
    }
