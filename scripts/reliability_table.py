"""Print the README's Reliability table from what the suite last measured.

``scripts/test`` leaves the fault tests' figures in build/reliability-figures.json
(tests/reliability_figures.py); this turns them into the Markdown rows the README's
"Reliability" section shows, so the section quotes a run rather than a memory:

    .venv/bin/python scripts/reliability_table.py [build/reliability-figures.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# (fault key, what the row says, the figures to quote in order)
ROWS = [
    (
        "asterisk_restart",
        "Asterisk restarted 10 times with 50 calls up (CDR as the oracle)",
        [
            "restarts",
            "calls_up",
            "cdr_calls",
            "missing",
            "duplicated",
            "in_progress_after_60s",
            "originates",
            "originates_resent",
            "median_reconnect_seconds",
            "max_reconnect_seconds",
        ],
    ),
    (
        "ami_link_faults",
        "AMI link reset, then frozen (no RST), at 20 calls/s",
        [
            "calls_per_second",
            "calls",
            "began_while_down",
            "ended_while_down",
            "unreconciled",
            "reset_reconnect_seconds",
            "frozen_detected_seconds",
            "frozen_resynced_seconds",
        ],
    ),
    (
        "database_outage",
        "PostgreSQL killed and restarted twice during the call events",
        [
            "events",
            "calls",
            "lost",
            "duplicated",
            "max_reader_stall_ms",
            "peak_backlog",
            "spilled",
            "peak_spill_bytes",
            "recovery_seconds",
        ],
    ),
    (
        "web_restart",
        "Web server restarted while two operators are connected",
        [
            "operators",
            "missed_pops",
            "duplicated_pops",
            "shown_exactly_once",
            "ended_while_down",
            "ended_cards_cleared",
            "server_down_seconds",
            "reconnect_seconds",
        ],
    ),
    (
        "hostile_ami",
        "Hostile AMI frames through the link",
        [
            "bytes",
            "events_delivered",
            "events_lost",
            "tracemalloc_peak_mb_10mb",
            "tracemalloc_peak_mb_50mb",
        ],
    ),
    (
        "hostile_csv",
        "Hostile CSV import (100 MB)",
        ["bytes", "good_rows", "peak_mb", "peak_mb_10mb", "seconds"],
    ),
]


def _figures(values: dict[str, Any], keys: list[str]) -> str:
    shown = [f"{key.replace('_', ' ')} {values[key]}" for key in keys if key in values]
    shown += [f"{k.replace('_', ' ')} {v}" for k, v in sorted(values.items()) if k not in keys]
    return "; ".join(shown)


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "build/reliability-figures.json")
    measured = json.loads(path.read_text(encoding="utf-8"))
    print("| fault | measured |")
    print("|---|---|")
    for key, label, keys in ROWS:
        if key in measured:
            print(f"| {label} | {_figures(measured[key], keys)} |")
        else:
            print(f"| {label} | not measured in this run |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
