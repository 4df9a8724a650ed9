"""Ad channels: where a client first came from.

A web lead is attributed by its UTM tags (else by its site's own channel), an inbound
caller by the tracking number they dialled. A contact keeps its *first* channel: it is
set once and never overwritten, so "how many clients did each channel bring" counts
every client exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import FormInvalid
from callcenter.models import AdChannel, Call, Contact, TrackingNumber
from callcenter.phones import to_e164

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
MAX_NAME = 200
MAX_UTM = 200
MAX_LABEL = 200
# the pop's "new client" form is filled while, or shortly after, the caller is on the line
_POP_CALL_WINDOW = timedelta(hours=12)


class ChannelError(FormInvalid):
    """A channel or tracking number cannot be stored as asked; nothing was."""


@dataclass(frozen=True)
class ChannelForm:
    name: str
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    is_active: bool = True


def _text(form: dict[str, str], name: str, limit: int, errors: dict[str, str]) -> str | None:
    value = form.get(name, "").strip()
    if len(value) > limit:
        errors[name] = f"at most {limit} characters"
    return value or None


def parse_channel(form: dict[str, str]) -> ChannelForm:
    errors: dict[str, str] = {}
    name = _text(form, "name", MAX_NAME, errors)
    if name is None:
        errors["name"] = "required"
    utm = {f: _text(form, f, MAX_UTM, errors) for f in UTM_FIELDS}
    if errors:
        raise ChannelError(errors)
    assert name is not None
    # UTM tags are matched case-insensitively: store them as they will be compared
    lowered = {f: v.lower() if v else None for f, v in utm.items()}
    return ChannelForm(name, **lowered, is_active=form.get("is_active", "") in ("on", "1", "true"))


async def save_channel(
    session: AsyncSession, form: ChannelForm, channel_id: int | None = None
) -> AdChannel:
    """A new channel, or the edited one; a name already taken is a field error."""
    channel = AdChannel() if channel_id is None else await session.get(AdChannel, channel_id)
    if channel is None:
        raise ChannelError({"channel": "no such channel"})
    try:
        # changed inside the savepoint: a refused change leaves nothing behind in the session
        async with session.begin_nested():
            session.add(channel)
            channel.name = form.name
            channel.utm_source, channel.utm_medium = form.utm_source, form.utm_medium
            channel.utm_campaign = form.utm_campaign
            channel.is_active = form.is_active
    except IntegrityError:
        raise ChannelError({"name": "a channel with this name exists"}) from None
    return channel


async def add_tracking_number(
    session: AsyncSession, did: str, channel_id: int | None, label: str, region: str
) -> TrackingNumber:
    errors: dict[str, str] = {}
    e164 = to_e164(did, region)
    if e164 is None:
        errors["did"] = "not a phone number"
    if channel_id is None or await session.get(AdChannel, channel_id) is None:
        errors["ad_channel_id"] = "choose a channel"
    if len(label) > MAX_LABEL:
        errors["label"] = f"at most {MAX_LABEL} characters"
    if errors:
        raise ChannelError(errors)
    number = TrackingNumber(did_e164=e164, ad_channel_id=channel_id, label=label.strip() or None)
    try:
        async with session.begin_nested():
            session.add(number)
    except IntegrityError:
        raise ChannelError({"did": "this number is already a tracking number"}) from None
    return number


def utm_match(
    channels: list[AdChannel], source: str | None, medium: str | None, campaign: str | None
) -> AdChannel | None:
    """The active channel whose UTM tags all match the lead's; the most specific wins."""
    lead = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign}
    lead = {k: v.strip().lower() if v else None for k, v in lead.items()}
    best: tuple[int, int] | None = None
    found = None
    for channel in channels:
        tags = {f: getattr(channel, f) for f in UTM_FIELDS if getattr(channel, f)}
        if not channel.is_active or not tags:
            continue
        if all(lead[f] == value.lower() for f, value in tags.items()):
            rank = (len(tags), -channel.id)  # more tags first; the older channel on a tie
            if best is None or rank > best:
                best, found = rank, channel
    return found


async def channel_for_utm(
    session: AsyncSession, source: str | None, medium: str | None, campaign: str | None
) -> AdChannel | None:
    if not (source or medium or campaign):
        return None
    channels = list(await session.scalars(select(AdChannel).where(AdChannel.is_active)))
    return utm_match(channels, source, medium, campaign)


async def set_first_channel(session: AsyncSession, contact_id: int, channel_id: int | None) -> bool:
    """Give the contact this channel unless it already has one; True when it was set."""
    if channel_id is None:
        return False
    result = await session.execute(
        update(Contact)
        .where(Contact.id == contact_id, Contact.ad_channel_id.is_(None))
        .values(ad_channel_id=channel_id)
        .returning(Contact.id)
    )
    return result.first() is not None


async def after_call(session: AsyncSession, call_id: int) -> None:
    """An inbound call to a tracking number gives its caller's contact a first channel."""
    row = (
        await session.execute(
            select(Call.contact_id, TrackingNumber.ad_channel_id)
            .join(TrackingNumber, TrackingNumber.id == Call.tracking_number_id)
            .where(Call.id == call_id, Call.direction == "inbound")
        )
    ).first()
    if row is not None and row.contact_id is not None:
        await set_first_channel(session, row.contact_id, row.ad_channel_id)


async def channel_of_recent_call(session: AsyncSession, e164: str, now: datetime) -> int | None:
    """The channel of this number's latest inbound call to a tracking number, if recent."""
    channel_id: int | None = await session.scalar(
        select(TrackingNumber.ad_channel_id)
        .join(Call, Call.tracking_number_id == TrackingNumber.id)
        .where(
            Call.caller_e164 == e164,
            Call.direction == "inbound",
            Call.started_at > now - _POP_CALL_WINDOW,
        )
        .order_by(Call.started_at.desc())
        .limit(1)
    )
    return channel_id
