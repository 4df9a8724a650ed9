"""Call recordings: who may play one, and where its file lies.

Recordings live under ``DATA_DIR/recordings``; a call's ``recording_path`` is relative
to it (an absolute path is accepted only if it lies inside it). Anything that resolves
outside, through ``..`` or a symbolic link, is refused: the path came from the PBX, not
from us.
"""

from __future__ import annotations

from pathlib import Path

from callcenter.models import Call, Role, User

# supervisors play recordings for quality control; an operator only their own calls
ROLES_WHO_PLAY_ANY_RECORDING = frozenset({Role.SUPERVISOR, Role.MANAGER, Role.ADMIN})


def recordings_dir(data_dir: Path) -> Path:
    return data_dir / "recordings"


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
