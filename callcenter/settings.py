"""One typed settings object, read once at start-up.

Sources, first match wins: environment variables ``CALLCENTER_<NAME>``, then the
optional TOML file named by ``CALLCENTER_CONFIG`` (keys are the lower-case names
without the prefix), then the defaults below. A bad value stops start-up with a
message that names the variable; secrets are wrapped so that they never reach a
log line or a traceback by accident.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

PREFIX = "CALLCENTER_"
LANGUAGES = ("ru", "en")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and why."""


class Secret:
    """A string that prints as asterisks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "callcenter"


@dataclass(frozen=True)
class Settings:
    database_url: Secret | None = None
    """Unset: an embedded PostgreSQL runs in ``data_dir/postgres``."""
    data_dir: Path = field(default_factory=default_data_dir)
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "callcenter"
    ami_secret: Secret = field(default_factory=lambda: Secret("callcenter-sandbox"))
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    agi_host: str = "127.0.0.1"
    """Where the FastAGI routing server listens (asterisk-conf/extensions.conf calls it)."""
    agi_port: int = 4573
    default_region: str = "RU"
    secret_key: Secret | None = None
    """Unset: generated once and kept in ``data_dir/secret_key`` (mode 0600)."""
    language: str = "ru"
    log_level: str = "INFO"
    time_zone: str = "Europe/Moscow"
    """The center's own day: when the wallboard's "today" starts."""
    recordings_dir: Path | None = None
    """Where Asterisk's MixMonitor writes (``RECORDINGS`` in extensions.conf); unset:
    ``data_dir/recordings``."""
    backlog_dir: Path | None = None
    """Where the call log keeps calls it cannot write yet (the database is away); unset:
    ``data_dir/backlog``."""
    call_log_memory: int = 10_000
    """How many unwritten calls stay in memory; beyond that they wait in ``backlog_dir``."""
    trusted_proxies: tuple[Network, ...] = ()
    """Reverse proxies (addresses or networks) whose X-Forwarded-Proto and X-Forwarded-For
    are believed: behind one that terminates TLS the session cookie gets Secure and HSTS
    is sent. From any other peer those headers are ignored."""

    @property
    def recordings_folder(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def backlog_folder(self) -> Path:
        return self.backlog_dir or self.data_dir / "backlog"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    def resolved_secret_key(self) -> Secret:
        """The configured key, else the one kept in the data folder (made on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        return Secret(path.read_text().strip())


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError("must be between 1 and 65535")
    return port


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be a whole number, 1 or more")
    return number


def _region(value: str) -> str:
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be a two-letter region code such as RU or KZ")
    return region


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
    return value


def _database_url(value: str) -> Secret | None:
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
        raise ValueError("must be a postgresql:// URL")
    return Secret(value)


def _secret(value: str) -> Secret:
    return Secret(value)


def _optional_secret(value: str) -> Secret | None:
    if value and len(value) < 16:
        raise ValueError("must be at least 16 characters")
    return Secret(value) if value else None


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError("must be a time zone such as Europe/Moscow") from None
    return value.strip()


def _networks(value: str) -> tuple[Network, ...]:
    try:
        return tuple(
            ipaddress.ip_network(part, strict=False) for part in value.replace(",", " ").split()
        )
    except ValueError:
        raise ValueError(
            "must be IP addresses or networks such as 127.0.0.1 or 10.0.0.0/8, comma-separated"
        ) from None


def _no_newlines(value: str) -> str:
    # host names and user names are sent to Asterisk; a line break would inject headers
    if any(c in value for c in "\r\n\0") or not value.strip():
        raise ValueError("must be a non-empty single line")
    return value.strip()


_PARSERS: dict[str, Callable[[str], Any]] = {
    "database_url": _database_url,
    "data_dir": lambda v: Path(v).expanduser(),
    "ami_host": _no_newlines,
    "ami_port": _port,
    "ami_username": _no_newlines,
    "ami_secret": _secret,
    "http_host": _no_newlines,
    "http_port": _port,
    "agi_host": _no_newlines,
    "agi_port": _port,
    "default_region": _region,
    "secret_key": _optional_secret,
    "language": _language,
    "log_level": _log_level,
    "recordings_dir": lambda v: Path(v).expanduser(),
    "time_zone": _time_zone,
    "backlog_dir": lambda v: Path(v).expanduser(),
    "call_log_memory": _positive,
    "trusted_proxies": _networks,
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment and the optional config file."""
    env = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    config_path = env.get(PREFIX + "CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as config_file:
                file_values = tomllib.load(config_file)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{PREFIX}CONFIG={config_path}: cannot read: {exc}") from exc
        unknown = set(file_values) - set(_PARSERS)
        if unknown:
            raise SettingsError(f"{config_path}: unknown settings: {', '.join(sorted(unknown))}")

    values: dict[str, Any] = {}
    for f in fields(Settings):
        env_name = PREFIX + f.name.upper()
        if env_name in env:
            raw, origin = env[env_name], env_name
        elif f.name in file_values:
            raw, origin = str(file_values[f.name]), f"{config_path}: {f.name}"
        else:
            continue
        try:
            values[f.name] = _PARSERS[f.name](raw)
        except ValueError as exc:
            shown = "<hidden>" if "secret" in f.name or "url" in f.name else repr(raw)
            raise SettingsError(f"{origin}={shown}: {exc}") from None
    return Settings(**values)
