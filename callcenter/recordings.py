"""Call recordings: who may play one, and where its file lies.

Recordings live in ``Settings.recordings_folder`` (Asterisk's MixMonitor folder); a
call's ``recording_path`` is relative to it (an absolute path is accepted only if it
lies inside it). Anything that resolves outside, through ``..`` or a symbolic link, is
refused: the path came from the PBX, not from us.
"""

from __future__ import annotations

import re
from pathlib import Path

from callcenter.models import Call, Role, User

# supervisors play recordings for quality control; an operator only their own calls
ROLES_WHO_PLAY_ANY_RECORDING = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})


# set by the dial plan's sub-record on the recorded channel (asterisk-conf/extensions.conf)
RECORDING_VARIABLE = "CALLCENTER_RECORDING"
# what the dial plan may name a recording (sub-record: "<uniqueid>.wav")
RECORDING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.(?:wav|WAV|gsm|mp3)$")


def recording_name(value: str | None) -> str | None:
    """The file name a call's ``CALLCENTER_RECORDING`` variable gives, if it is one."""
    return value if value and RECORDING_NAME.fullmatch(value) else None


def may_play(user: User, call: Call) -> bool:
    return user.role in ROLES_WHO_PLAY_ANY_RECORDING or (
        call.answered_by_id is not None and call.answered_by_id == user.id
    )


def recording_file(folder: Path, recording_path: str) -> Path | None:
    """The recording's file if it lies inside ``folder``; None otherwise."""
    if not recording_path or "\x00" in recording_path:
        return None
    root = folder.resolve()
    candidate = (root / recording_path).resolve()
    if candidate == root or not candidate.is_relative_to(root):
        return None
    return candidate
