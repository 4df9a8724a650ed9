"""Moments in JSON answers and websocket messages: ISO 8601 text, or null when unset."""

from __future__ import annotations

from datetime import date


def iso(moment: date | None) -> str | None:
    """``2026-12-25T14:30:00+03:00`` for an aware datetime (a ``date`` gives ``2026-12-25``)."""
    return moment.isoformat() if moment else None
