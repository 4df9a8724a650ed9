"""Staff accounts as an admin manages them: add, edit, deactivate, reset passwords, teams.

Users are never deleted (calls and the audit log keep pointing at them); a deactivated
user cannot sign in and every session and API token they had ends at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth import find_user
from callcenter.form_errors import FormInvalid, Problems, text_field, whole_number
from callcenter.models import ApiToken, Language, Role, Team, User, WebSession
from callcenter.passwords import MIN_LENGTH, hash_password
from callcenter.time_zones import is_time_zone

LOGIN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# the same patterns as the users table's CHECK constraints: these reach AMI actions
EXTENSION = re.compile(r"^[0-9]{1,15}$")
INTERFACE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@:+-]+$")
MAX_NAME = 200


@dataclass(frozen=True)
class StaffForm:
    """Everything about an account an admin may change (the login is fixed)."""

    full_name: str
    role: str
    language: str
    time_zone: str
    extension: str | None
    interface: str | None
    team_id: int | None


@dataclass(frozen=True)
class StaffRow:
    user: User
    team_name: str | None


def read_staff_form(raw: Mapping[str, str], team_ids: set[int]) -> StaffForm:
    """The form's values, checked; ``FormInvalid`` names every wrong field."""
    problems = Problems()
    full_name = text_field(raw, "full_name", MAX_NAME + 1)
    if not full_name:
        problems.add("full_name", "Enter the full name.")
    elif len(full_name) > MAX_NAME:
        problems.add("full_name", "At most 200 characters.")
    role = text_field(raw, "role")
    if role not in {r.value for r in Role}:
        problems.add("role", "Choose a role.")
    language = text_field(raw, "language")
    if language not in {lang.value for lang in Language}:
        problems.add("language", "Choose a language.")
    time_zone = text_field(raw, "time_zone")
    if not is_time_zone(time_zone):
        problems.add("time_zone", "Choose a time zone.")
    extension = text_field(raw, "extension") or None
    if extension is not None and not EXTENSION.match(extension):
        problems.add("extension", "Digits only, e.g. 105.")
    interface = text_field(raw, "interface") or None
    if interface is not None and not INTERFACE.match(interface):
        problems.add("interface", "Technology/name, e.g. PJSIP/op105.")
    team_raw = text_field(raw, "team_id")
    team_id = whole_number(team_raw)
    if team_raw and (team_id is None or team_id not in team_ids):
        problems.add("team_id", "Choose a team from the list.")
    problems.raise_any()
    return StaffForm(full_name, role, language, time_zone, extension, interface, team_id)


async def _check_phone_unique(
    session: AsyncSession, form: StaffForm, user_id: int | None, problems: Problems
) -> None:
    for column, value in (("extension", form.extension), ("interface", form.interface)):
        if value is None:
            continue
        holder = (
            await session.execute(
                select(User.full_name, User.login).where(
                    func.lower(getattr(User, column)) == value.lower(),
                    User.id != (user_id or 0),
                )
            )
        ).first()
        if holder is not None:
            message = (
                "Extension %(value)s is already used by %(name)s (%(login)s)."
                if column == "extension"
                else "Device %(value)s is already used by %(name)s (%(login)s)."
            )
            problems.add(column, message, value=value, name=holder.full_name, login=holder.login)


def _password_problem(password: str, problems: Problems, name: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        problems.add(name, "At least %(count)s characters.", count=str(MIN_LENGTH))


async def _team_ids(session: AsyncSession) -> set[int]:
    return set(await session.scalars(select(Team.id)))


async def add_staff(session: AsyncSession, raw: Mapping[str, str]) -> User:
    """A new account from the admin's form; ``FormInvalid`` names every wrong field."""
    problems = Problems()
    form: StaffForm | None = None
    try:
        form = read_staff_form(raw, await _team_ids(session))
    except FormInvalid as exc:
        problems.found.update(exc.problems)
    login = text_field(raw, "login", 100)
    if not LOGIN.match(login):
        problems.add("login", "Letters, digits and . _ @ - only, at most 64.")
    elif await find_user(session, login) is not None:
        problems.add("login", "This login is taken.")
    password = str(raw.get("password", ""))
    _password_problem(password, problems)
    if form is not None:
        await _check_phone_unique(session, form, None, problems)
    problems.raise_any()
    assert form is not None
    user = User(login=login, password_hash=hash_password(password), **_columns(form))
    session.add(user)
    await session.flush()
    return user


def _columns(form: StaffForm) -> dict[str, object]:
    return {
        "full_name": form.full_name,
        "role": form.role,
        "language": form.language,
        "time_zone": form.time_zone,
        "extension": form.extension,
        "interface": form.interface,
        "team_id": form.team_id,
    }


async def update_staff(session: AsyncSession, user: User, raw: Mapping[str, str], by: User) -> None:
    """Everything but the login, from the admin's form."""
    form = read_staff_form(raw, await _team_ids(session))
    problems = Problems()
    if user.id == by.id and form.role != user.role:
        # otherwise the last admin can lock everyone out of the admin pages
        problems.add("role", "You cannot change your own role.")
    await _check_phone_unique(session, form, user.id, problems)
    problems.raise_any()
    for name, value in _columns(form).items():
        setattr(user, name, value)
    await session.flush()


async def set_active(session: AsyncSession, user: User, active: bool, by: User) -> None:
    problems = Problems()
    if user.id == by.id and not active:
        problems.add("is_active", "You cannot deactivate your own account.")
    problems.raise_any()
    user.is_active = active
    if not active:
        await end_sessions(session, user.id)
        await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    await session.flush()


async def reset_password(session: AsyncSession, user: User, password: str) -> None:
    """A new password from the admin; whoever was signed in with the old one is signed out."""
    problems = Problems()
    _password_problem(password, problems)
    problems.raise_any()
    user.password_hash = hash_password(password)
    await end_sessions(session, user.id)
    await session.flush()


async def end_sessions(session: AsyncSession, user_id: int, keep_token: str | None = None) -> None:
    """Sign the user out everywhere (but in the browser holding ``keep_token``)."""
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_token:
        # the same digest callcenter.auth stores for a session token
        kept = hashlib.sha256(keep_token.encode()).hexdigest()
        statement = statement.where(WebSession.token_hash != kept)
    await session.execute(statement)


async def staff_list(session: AsyncSession) -> list[StaffRow]:
    rows = await session.execute(
        select(User, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .order_by(User.is_active.desc(), func.lower(User.full_name), User.id)
    )
    return [StaffRow(user, team_name) for user, team_name in rows]


async def teams(session: AsyncSession) -> list[Team]:
    return list(await session.scalars(select(Team).order_by(func.lower(Team.name))))


async def save_team(session: AsyncSession, name: str, team: Team | None = None) -> Team:
    """A new team, or ``team`` renamed; names are unique regardless of case."""
    name = " ".join(name.split())
    problems = Problems()
    if not name:
        problems.add("name", "Enter the team's name.")
    elif len(name) > MAX_NAME:
        problems.add("name", "At most 200 characters.")
    else:
        clash = await session.scalar(
            select(Team.id).where(
                func.lower(Team.name) == name.lower(), Team.id != (team.id if team else 0)
            )
        )
        if clash is not None:
            problems.add("name", "A team with this name exists.")
    problems.raise_any()
    if team is None:
        team = Team(name=name)
        session.add(team)
    else:
        team.name = name
    await session.flush()
    return team
