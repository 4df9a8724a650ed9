"""The shared form and API-error helpers the web pages and the JSON API both use."""

from __future__ import annotations

import json

from callcenter.form_errors import FormInvalid, Problem, whole_number
from web.json_api import error_response, invalid_input


def test_whole_number_takes_ascii_digits_short_enough_for_a_bigint() -> None:
    assert whole_number("42") == 42
    assert whole_number("007") == 7
    assert whole_number("9" * 18) == int("9" * 18)
    assert whole_number("9" * 19) is None
    assert whole_number("123", max_digits=2) is None
    for wrong in ("", " 1", "-1", "1.5", "1e3", "²", "٣", "１"):
        assert whole_number(wrong) is None, wrong


def test_a_refused_form_reads_the_same_to_the_api_whatever_raised_it() -> None:
    refused = FormInvalid(
        {"title": "Enter a title.", "amount": Problem("At most %(max)s.", {"max": "100"})}
    )
    assert refused.errors == {"title": "Enter a title.", "amount": "At most 100."}
    body = json.loads(invalid_input(refused, "invalid deal").text or "")
    assert body == {"error": "invalid deal", "fields": refused.errors}


def test_a_field_may_be_called_status_or_message() -> None:
    response = error_response(400, "bad filter", status="open or done", message="too long")
    assert response.status == 400
    assert json.loads(response.text or "") == {
        "error": "bad filter",
        "fields": {"status": "open or done", "message": "too long"},
    }
