"""The figures the reliability tests measure, for the README's Reliability section.

A fault-injection test asserts the issue's bound (the claim) and records what it
actually measured here; ``scripts/test`` leaves them in build/reliability-figures.json
so the README can quote what the suite last produced.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

FIGURES = Path(
    os.environ.get(
        "CALLCENTER_FIGURES_FILE",
        Path(__file__).resolve().parent.parent / "build" / "reliability-figures.json",
    )
)


def record(fault: str, **figures: Any) -> None:
    """Merge ``figures`` under ``fault`` (e.g. "asterisk_restart"); printed too, for -s."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # xdist workers may record at once
        file.seek(0)
        text = file.read()
        known = json.loads(text) if text.strip() else {}
        known[fault] = figures
        file.seek(0)
        file.truncate()
        json.dump(known, file, ensure_ascii=False, indent=2, sort_keys=True)
    print(f"reliability figures: {fault}: {figures}")
