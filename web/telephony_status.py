"""Whether telephony is up, on every signed-in page, as the AMI link's state changes.

The page renders the state it had when it was served; after that each change of
the link is pushed as the latest ``telephony.state`` picture to every connected
user (and to each one that connects later), so an open console says "telephony
unavailable" while the link is down, not only after a reload.
"""

from __future__ import annotations

from collections.abc import Callable

from callcenter.models import Role
from callcenter.wallboard_feed import Broadcast

TELEPHONY_STATE = "telephony.state"
EVERYONE = tuple(role.value for role in Role)


def announce_telephony(broadcast: Broadcast) -> Callable[[str], None]:
    """A link's ``on_state_change`` hook that tells every signed-in page."""

    def announce(state: str) -> None:
        broadcast.publish_state(EVERYONE, TELEPHONY_STATE, {"state": state})

    return announce
