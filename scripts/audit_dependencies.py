"""The dependency audit scripts/test runs: pip-audit on the installed packages, bounded in time.

A known vulnerability in any installed package fails the run and names the package, the
advisory and the versions that fix it. When the vulnerability feed cannot answer (no
network, a PyPI mirror without the per-version JSON pip-audit asks for, a timeout) the
packages were not audited at all: that is said loudly, naming how many, and fails the run
only with CALLCENTER_AUDIT_STRICT=1, since it tells nothing about the packages.

    .venv/bin/python scripts/audit_dependencies.py [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

VENV_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"
DEFAULT_TIMEOUT = 180


def pip_audit_command(report: Path) -> list[str]:
    return [
        str(VENV_BIN / "pip-audit"),
        "--progress-spinner",
        "off",
        "--skip-editable",  # the project itself, installed from this checkout
        "--format",
        "json",
        "--output",
        str(report),
    ]


def verdict(report: dict[str, Any] | None, problem: str = "") -> tuple[int, list[str], bool]:
    """The exit status, the lines to print, and whether anything was really audited."""
    if report is None:
        return 0, [f"NOT AUDITED: pip-audit gave no report ({problem or 'no output'})"], False
    lines: list[str] = []
    audited = skipped = 0
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped += 1
            continue
        audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases", []))
            lines.append(
                f"VULNERABLE: {dependency['name']} {dependency['version']}: {vuln['id']}"
                + (f" ({aliases})" if aliases else "")
                + f"; fixed in {fixes}"
            )
    if lines:
        return 1, lines, True
    if audited == 0:
        lines.append(
            f"NOT AUDITED: the vulnerability feed knew none of the {skipped} installed packages"
            " (a PyPI mirror without per-version JSON, or no network)"
        )
        return 0, lines, False
    lines.append(f"no known vulnerabilities in {audited} packages")
    if skipped:
        lines.append(f"not audited (unknown to the feed): {skipped} packages")
    return 0, lines, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pip-audit.json"
        report: dict[str, Any] | None = None
        problem = ""
        try:
            done = subprocess.run(
                pip_audit_command(path),
                timeout=args.timeout,
                capture_output=True,
                text=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            problem = f"did not finish in {args.timeout:.0f} s"
        else:
            if path.exists():
                report = json.loads(path.read_text())
            else:
                problem = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    status, lines, audited = verdict(report, problem)
    for line in lines:
        print(line)
    if not audited and os.environ.get("CALLCENTER_AUDIT_STRICT") == "1":
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
