from __future__ import annotations

import logging
from pathlib import Path

import pytest

from callcenter.settings import Secret, SettingsError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.uses_embedded_database
    assert (settings.default_region, settings.language) == ("RU", "ru")
    assert (settings.http_port, settings.ami_port) == (8080, 5038)


def test_environment_values_are_parsed() -> None:
    settings = load_settings(
        {
            "CALLCENTER_DATABASE_URL": "postgresql://cc:pw@db:5432/cc",
            "CALLCENTER_AMI_PORT": "15038",
            "CALLCENTER_DEFAULT_REGION": "kz",
            "CALLCENTER_LANGUAGE": "en",
        }
    )
    assert settings.database_url == Secret("postgresql://cc:pw@db:5432/cc")
    assert settings.ami_port == 15038
    assert settings.default_region == "KZ"
    assert settings.language == "en"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CALLCENTER_HTTP_PORT", "http", "CALLCENTER_HTTP_PORT='http'"),
        ("CALLCENTER_AMI_PORT", "70000", "between 1 and 65535"),
        ("CALLCENTER_DEFAULT_REGION", "XX", "region code"),
        ("CALLCENTER_LANGUAGE", "de", "one of ru, en"),
        ("CALLCENTER_DATABASE_URL", "mysql://x", "postgresql://"),
        ("CALLCENTER_AMI_USERNAME", "cc\r\nAction: Originate", "single line"),
        ("CALLCENTER_SECRET_KEY", "short", "16 characters"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        load_settings({name: value})
    assert name in str(raised.value)


def test_secrets_never_print(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(
        {
            "CALLCENTER_AMI_SECRET": "hunter2-ami",
            "CALLCENTER_DATABASE_URL": "postgresql://cc:db-password@db/cc",
            "CALLCENTER_SECRET_KEY": "k" * 40,
        }
    )
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s %r", settings, settings)
    text = caplog.text + repr(settings) + str(settings)
    for secret in ("hunter2-ami", "db-password", "k" * 40):
        assert secret not in text
    assert settings.ami_secret.reveal() == "hunter2-ami"


def test_a_bad_database_url_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"CALLCENTER_DATABASE_URL": "mysql://root:topsecret@x"})
    assert "topsecret" not in str(raised.value)


def test_config_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "callcenter.toml"
    config.write_text('http_port = 9000\nlanguage = "en"\n')
    settings = load_settings({"CALLCENTER_CONFIG": str(config), "CALLCENTER_LANGUAGE": "ru"})
    assert settings.http_port == 9000
    assert settings.language == "ru"


def test_unknown_key_in_config_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "callcenter.toml"
    config.write_text("http_prot = 9000\n")
    with pytest.raises(SettingsError, match="unknown settings: http_prot"):
        load_settings({"CALLCENTER_CONFIG": str(config)})


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings({"CALLCENTER_DATA_DIR": str(tmp_path)})
    first = settings.resolved_secret_key()
    assert len(first.reveal()) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_settings({"CALLCENTER_DATA_DIR": str(tmp_path)}).resolved_secret_key() == first
