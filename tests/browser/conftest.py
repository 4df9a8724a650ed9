from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.parts import missing

CHROMIUM = Path("/usr/bin/chromium")
# without the background-networking flags chromium keeps dialling Google on a closed network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        missing("Chromium", "install the Debian package 'chromium'")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[object]:
    """Debian's chromium driven by Playwright (no downloaded browser builds)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        missing("Chromium", f"playwright is not installed: {exc}")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()
