"""How the domain tells people something happened; the websocket hub decides delivery."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol


class Notifier(Protocol):
    def publish(self, user_ids: Collection[int], type_: str, payload: dict[str, Any]) -> None:
        """Queue a message for these users; never blocks, never raises for a slow reader."""
