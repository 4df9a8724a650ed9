"""CALLCENTER_TRUSTED_PROXIES: which peers' X-Forwarded-* headers are believed."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from callcenter.settings import SettingsError, load_settings


def test_none_by_default() -> None:
    assert load_settings({}).trusted_proxies == ()


def test_addresses_and_networks_separated_by_commas_or_spaces() -> None:
    proxies = load_settings(
        {"CALLCENTER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1"}
    ).trusted_proxies
    assert [str(p) for p in proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert ip_address("10.1.2.3") in proxies[1]


def test_a_bad_value_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"CALLCENTER_TRUSTED_PROXIES='nginx'.*IP addresses"):
        load_settings({"CALLCENTER_TRUSTED_PROXIES": "nginx"})
