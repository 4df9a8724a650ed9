"""Which scheme and client address a request gets from X-Forwarded-* (web/security.py)."""

from __future__ import annotations

from ipaddress import ip_network
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from web.security import as_the_browser_sent_it

PROXIES = (ip_network("10.0.0.0/24"), ip_network("fd00::/64"))


def request_from(peer: str, **headers: str) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    names = {key.replace("_", "-"): value for key, value in headers.items()}
    return make_mocked_request("POST", "/login", headers=names, transport=transport)


def seen(peer: str, **headers: str) -> tuple[str, str | None]:
    request = as_the_browser_sent_it(request_from(peer, **headers), PROXIES)
    return request.scheme, request.remote


def test_from_the_proxy_the_browsers_scheme_and_address() -> None:
    assert seen("10.0.0.2", X_Forwarded_Proto="https", X_Forwarded_For="203.0.113.5") == (
        "https",
        "203.0.113.5",
    )
    assert seen("fd00::7", X_Forwarded_Proto="https") == ("https", "fd00::7")


def test_from_anyone_else_the_headers_are_ignored() -> None:
    headers = {"X_Forwarded_Proto": "https", "X_Forwarded_For": "203.0.113.5"}
    assert seen("198.51.100.1", **headers) == ("http", "198.51.100.1")
    assert as_the_browser_sent_it(request_from("10.0.0.2", **headers), ()).remote == "10.0.0.2"


def test_an_address_the_client_wrote_itself_is_passed_over() -> None:
    """The client may send its own X-Forwarded-For; our proxy appends the real peer."""
    spoofed = "1.2.3.4, 203.0.113.5"
    assert seen("10.0.0.2", X_Forwarded_For=spoofed)[1] == "203.0.113.5"
    # through two of our own proxies: the first address from the right that is not ours
    assert seen("10.0.0.2", X_Forwarded_For="1.2.3.4, 203.0.113.5, 10.0.0.3")[1] == ("203.0.113.5")
    assert seen("10.0.0.2", X_Forwarded_For="10.0.0.4, 10.0.0.3")[1] == "10.0.0.4"


def test_garbage_changes_nothing() -> None:
    assert seen("10.0.0.2", X_Forwarded_For="203.0.113.5, unknown") == ("http", "10.0.0.2")
    assert seen("10.0.0.2", X_Forwarded_Proto="gopher") == ("http", "10.0.0.2")
    # the value the nearest proxy wrote wins
    assert seen("10.0.0.2", X_Forwarded_Proto="http, https")[0] == "https"
