"""The dependency rule from DESIGN.md, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# package -> top-level modules it must never import
FORBIDDEN = {
    "callcenter": {"ami", "web", "dialer", "aiohttp", "panoramisk"},
    "dialer": {"ami", "web", "panoramisk"},
    "web": {"ami", "dialer", "panoramisk"},
    "ami": {"web", "dialer", "aiohttp"},
}
# the composition root wires the adapters together, so it may import them
COMPOSITION_ROOT = ("callcenter/app/", "callcenter/cli.py")


def imported_top_levels(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def violations(package: str, root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(COMPOSITION_ROOT):
            continue
        bad = imported_top_levels(path.read_text()) & FORBIDDEN[package]
        found.extend(f"{relative} imports {name}" for name in sorted(bad))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_rule(package: str) -> None:
    assert violations(package) == []


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "dialer").mkdir()
    (tmp_path / "dialer" / "pacing.py").write_text("from ami.link import AmiLink\nimport os\n")
    (tmp_path / "callcenter" / "app").mkdir(parents=True)
    (tmp_path / "callcenter" / "app" / "wiring.py").write_text("import web.app\n")
    (tmp_path / "callcenter" / "calls.py").write_text("import aiohttp\n")
    assert violations("dialer", tmp_path) == ["dialer/pacing.py imports ami"]
    assert violations("callcenter", tmp_path) == ["callcenter/calls.py imports aiohttp"]


def test_dialer_reaches_telephony_through_the_protocol() -> None:
    from callcenter.telephony import Telephony

    assert {"state", "originate"} <= set(dir(Telephony))
