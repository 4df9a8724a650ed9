"""Websites allowed to send leads, each with its own token.

The token is shown once, when a site is added or its token rotated; only its SHA-256
is stored, so a leaked database does not let anyone post leads in a site's name.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import FormInvalid
from callcenter.models import AdChannel, WebFormSite

MAX_NAME = 200
# tokens are url-safe base64 of this many random bytes; anything much longer is not one
_TOKEN_BYTES = 24
MAX_TOKEN = 100


class SiteError(FormInvalid):
    """No such site, or a site cannot be stored as asked."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


async def add_site(
    session: AsyncSession, name: str, ad_channel_id: int | None
) -> tuple[WebFormSite, str]:
    """The new site and its token (the only time the token is known)."""
    name = name.strip()
    errors: dict[str, str] = {}
    if not name or len(name) > MAX_NAME:
        errors["name"] = f"required, at most {MAX_NAME} characters"
    if ad_channel_id is not None and await session.get(AdChannel, ad_channel_id) is None:
        errors["ad_channel_id"] = "no such channel"
    if errors:
        raise SiteError(errors)
    token = _new_token()
    site = WebFormSite(name=name, token_hash=token_hash(token), ad_channel_id=ad_channel_id)
    try:
        # added inside the savepoint: a refused site leaves nothing behind in the session
        async with session.begin_nested():
            session.add(site)
    except IntegrityError:
        raise SiteError({"name": "a site with this name exists"}) from None
    return site, token


async def rotate_token(session: AsyncSession, site_id: int) -> tuple[WebFormSite, str]:
    """A new token for the site (active again); the old one stops working at commit."""
    site = await session.get(WebFormSite, site_id)
    if site is None:
        raise SiteError({"site": "no such site"})
    token = _new_token()
    site.token_hash = token_hash(token)
    site.is_active = True
    await session.flush()
    return site, token


async def deactivate_site(session: AsyncSession, site_id: int) -> WebFormSite:
    site = await session.get(WebFormSite, site_id)
    if site is None:
        raise SiteError({"site": "no such site"})
    site.is_active = False
    await session.flush()
    return site


async def site_for_token(session: AsyncSession, token: str) -> WebFormSite | None:
    """The active site this token belongs to, or None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    site: WebFormSite | None = await session.scalar(
        select(WebFormSite).where(
            WebFormSite.token_hash == token_hash(token), WebFormSite.is_active
        )
    )
    return site
