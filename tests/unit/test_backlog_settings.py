"""Where the call log's backlog lives and how much of it stays in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.settings import SettingsError, load_settings


def test_the_backlog_lives_in_the_data_folder_unless_told_otherwise(tmp_path: Path) -> None:
    settings = load_settings({"CALLCENTER_DATA_DIR": str(tmp_path)})
    assert settings.backlog_folder == tmp_path / "backlog"
    assert settings.call_log_memory == 10_000
    moved = load_settings(
        {
            "CALLCENTER_DATA_DIR": str(tmp_path),
            "CALLCENTER_BACKLOG_DIR": str(tmp_path / "fast-disk"),
            "CALLCENTER_CALL_LOG_MEMORY": "200",
        }
    )
    assert moved.backlog_folder == tmp_path / "fast-disk"
    assert moved.call_log_memory == 200


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_memory_limit_that_is_no_positive_number_stops_start_up(value: str) -> None:
    with pytest.raises(SettingsError, match="CALLCENTER_CALL_LOG_MEMORY"):
        load_settings({"CALLCENTER_CALL_LOG_MEMORY": value})
