"""The CI step that audits the installed packages (scripts/audit_dependencies.py)."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def audit_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "audit_dependencies", REPO / "scripts" / "audit_dependencies.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AUDIT = audit_script()
CLEAN = {"name": "jinja2", "version": "3.1.6", "vulns": []}
VULNERABLE = {
    "name": "aiohttp",
    "version": "3.9.0",
    "vulns": [{"id": "PYSEC-2024-24", "fix_versions": ["3.9.2"], "aliases": ["CVE-2024-23334"]}],
}
UNKNOWN = {"name": "panoramisk", "skip_reason": "Dependency not found on PyPI"}


def report(*dependencies: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(dependencies), "fixes": []}


def test_a_known_vulnerability_fails_and_names_the_fix() -> None:
    status, lines, audited = AUDIT.verdict(report(CLEAN, VULNERABLE, UNKNOWN))
    assert (status, audited) == (1, True)
    assert lines == ["VULNERABLE: aiohttp 3.9.0: PYSEC-2024-24 (CVE-2024-23334); fixed in 3.9.2"]


def test_clean_packages_pass_and_skipped_ones_are_counted() -> None:
    status, lines, audited = AUDIT.verdict(report(CLEAN, UNKNOWN))
    assert (status, audited) == (0, True)
    assert lines == [
        "no known vulnerabilities in 1 packages",
        "not audited (unknown to the feed): 1 packages",
    ]


def test_nothing_audited_is_not_reported_as_a_pass() -> None:
    status, lines, audited = AUDIT.verdict(report(UNKNOWN, UNKNOWN))
    assert (status, audited) == (0, False)
    assert lines[0].startswith("NOT AUDITED: the vulnerability feed knew none of the 2")
    status, lines, audited = AUDIT.verdict(None, "did not finish in 180 s")
    assert (status, audited) == (0, False)
    assert "did not finish in 180 s" in lines[0]


def test_strict_mode_fails_when_nothing_could_be_audited(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "pip-audit"
    # a stand-in pip-audit that writes the report it is asked for
    fake.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--output" ]; do shift; done\n'
        f"echo '{json.dumps(report(UNKNOWN))}' > \"$2\"\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(AUDIT, "VENV_BIN", tmp_path)
    assert AUDIT.main([]) == 0
    monkeypatch.setenv("CALLCENTER_AUDIT_STRICT", "1")
    assert AUDIT.main([]) == 1
    assert "NOT AUDITED" in capsys.readouterr().out
    fake.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--output" ]; do shift; done\n'
        f"echo '{json.dumps(report(VULNERABLE))}' > \"$2\"\n"
        "exit 1\n"
    )
    monkeypatch.delenv("CALLCENTER_AUDIT_STRICT")
    assert AUDIT.main([]) == 1
    fake.write_text("#!/bin/sh\nexec sleep 5\n")
    assert AUDIT.main(["--timeout", "0.2"]) == 0
    assert "did not finish" in capsys.readouterr().out


def test_ci_runs_the_audit_and_installs_pip_audit() -> None:
    script = (REPO / "scripts" / "test").read_text()
    assert "scripts/audit_dependencies.py --timeout" in script
    assert script.index("audit_dependencies") < script.index(".venv/bin/pytest")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    test_tools = project["project"]["optional-dependencies"]["test"]
    assert any(tool.startswith("pip-audit") for tool in test_tools)
    command = AUDIT.pip_audit_command(Path("report.json"))
    assert command[0].endswith(".venv/bin/pip-audit") and "--skip-editable" in command
