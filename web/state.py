"""Typed application state shared by the web handlers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.settings import Settings
from callcenter.telephony import Telephony
from web.hub import Hub


@dataclass(frozen=True)
class WebServices:
    settings: Settings
    db: async_sessionmaker[AsyncSession]
    telephony: Telephony


SERVICES = web.AppKey("services", WebServices)
HUB = web.AppKey("hub", Hub)
