"""Issue 7, item 9: script injection through every field a caller, a web form or a member
of staff controls, checked in Chromium on every page that shows it.

Hostile text goes in through the real entry points (``hostile_world``); then every page
of ``PAGES`` is opened with the Content-Security-Policy switched off in the browser, so
that only the escaping stands between the payload and a running script. Each page
must show its fields' payloads as literal text, run none of them (no ``window.__xss``,
no dialog, no element with an event-handler attribute, no ``javascript:`` link), and
still send a CSP without ``unsafe-inline`` / ``unsafe-eval``. Every HTML page the app
routes is either in ``PAGES`` or in ``NOT_SHOWN`` with the reason, so a new page cannot
be forgotten silently.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.replay_pbx import ReplayPbx
from callcenter.app.runtime import serve
from callcenter.settings import load_settings
from tests.browser import hostile_world as hw
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer, free_tcp_port
from web.app import create_app
from web.state import WebServices

pytestmark = [pytest.mark.browser, pytest.mark.db]


def literal(tag: str) -> str:
    """The text a field's payload must be shown as."""
    special = {
        "leadmail": hw.HOSTILE_EMAIL,
        "csvfile": hw.CSV_FILE,
        "csvcol": hw.CSV_COLUMN,
        "csvname": hw.CSV_NAME,
        "csvformula": hw.CSV_FORMULA,
        "csvformulaname": hw.CSV_FORMULA_NAME,
    }
    return special.get(tag, hw.hostile(tag))


@dataclass(frozen=True)
class Page:
    route: str  # the app's route, as aiohttp names it
    path: str  # what to open, ``{client}`` etc. filled from the world's ids
    shows: tuple[str, ...]  # the fields whose payload the page must show as text
    viewer: str = "boss"
    when: str = "after"  # "ringing": while the hostile caller's call still rings


PAGES = [
    # while the hostile caller rings op101: the screen-pop and the wallboard
    Page("/wallboard", "/wallboard", ("callername", "queue", "opname", "pause"), when="ringing"),
    Page("/", "/", ("callername", "callernum", "did", "queue", "me"), when="ringing"),
    # op102's console, open since sign-in: the pause the PBX reported, live
    Page("/", "", ("pause", "opname"), viewer="op102", when="ringing"),
    # the same console once the caller hung up, not reloaded: the after-call form
    Page("/", "", ("callername", "callernum", "disp"), when="wrapup"),
    # after the calls: the console's call log and callbacks, reports of calls
    Page("/", "/", ("callername", "callernum", "missednum")),
    # the replayed calls keep the recorded PBX time: 23 November 2026
    Page("/reports/{name}", "/reports/missed?from=2026-11-23&to=2026-11-23", ("queue",)),
    Page("/reports/{name}", "/reports/calls", ("me",)),
    Page("/reports/{name}", "/reports/load", ("me", "opname")),
    Page("/reports/{name}", "/reports/funnel", ("stage",)),
    Page("/reports/{name}", "/reports/channels", ("channel",)),
    Page("/reports", "/reports", ("me",)),
    # the client base
    Page("/clients", "/clients?q=" + quote(hw.hostile("client")), ("client", "company")),
    Page("/clients", "/clients?q=" + quote(hw.hostile("query")), ("query",)),
    Page("/clients", "/clients?q=csvformula", ("csvformulaname",)),
    Page(
        r"/clients/{id}",
        "/clients/{client}",
        ("client", "company", "position", "note", "task", "deal", "cflabel", "cfvalue"),
    ),
    Page(r"/clients/{id}", "/clients/{lead}", ("leadname", "leadmsg", "leadmail", "site")),
    Page(
        r"/clients/{id}/edit",
        "/clients/{client}/edit",
        ("client", "company", "position", "cflabel", "cfvalue"),
    ),
    Page(r"/clients/{id}/duplicates", "/clients/{client}/duplicates", ("client",)),
    Page("/clients/new", "/clients/new", ("cflabel",)),
    Page(r"/companies/{id}", "/companies/{company}", ("company", "client")),
    # tasks and deals
    Page("/tasks", "/tasks", ("task", "client", "leadname", "site")),
    Page("/tasks/new", "/tasks/new", ("me", "opname")),
    Page("/tasks/load", "/tasks/load", ("me", "opname")),
    Page("/deals", "/deals", ("deal", "stage", "client")),
    Page(r"/deals/{deal_id}", "/deals/{deal}", ("deal", "stage", "client", "reason")),
    Page("/deals/new", "/deals/new", ("stage",)),
    # a CSV import: the file's name, its header and cells, the rejected formula row
    Page("/imports", "/imports", ("csvfile",)),
    Page(r"/imports/uploads/{token}", "/imports/uploads/{upload}", ("csvcol", "csvname")),
    Page(r"/imports/{id}", "/imports/{import}", ("csvfile", "csvformula")),
    # campaigns
    Page("/campaigns", "/campaigns", ("campaign",)),
    Page(r"/campaigns/{id}", "/campaigns/{campaign}", ("campaign", "script")),
    Page(r"/campaigns/{id}/edit", "/campaigns/{campaign}/edit", ("campaign", "script")),
    Page("/campaigns/new", "/campaigns/new", ("me", "opname")),
    Page("/work", "/work", ("campaign",), viewer="op102"),
    Page(r"/campaigns/{id}/next", "/campaigns/{campaign}/next", ("campaign",), viewer="op102"),
    # segments
    Page("/segments", "/segments", ("segment",)),
    Page(r"/segments/{id}", "/segments/{segment}", ("segment", "client", "company")),
    Page("/segments/new", "/segments/new", ("me",)),
    Page("/profile", "/profile", ("me",)),
    # an admin's pages
    Page("/admin/users", "/admin/users", ("me", "opname"), viewer="root"),
    Page(r"/admin/users/{id}", "/admin/users/{op102}", ("opname",), viewer="root"),
    Page("/admin/audit", "/admin/audit", ("me",), viewer="root"),
    Page("/admin/dispositions", "/admin/dispositions", ("disp",), viewer="root"),
    Page("/admin/custom-fields", "/admin/custom-fields", ("cflabel",), viewer="root"),
    Page("/admin/stages", "/admin/stages", ("stage",), viewer="root"),
    Page("/admin/refusal-reasons", "/admin/refusal-reasons", ("reason",), viewer="root"),
    Page("/admin/channels", "/admin/channels", ("channel", "site"), viewer="root"),
]

VIEWERS = ("boss", "root", "op102")

# HTML pages routed by the app that no caller, visitor or staff text reaches
NOT_SHOWN = {
    "/login": "no stored text; the login typed is shown back in its input (checked below)",
    "/admin": "links only",
    "/imports/new": "an empty upload form",
    "/admin/settings": "the centre's settings: numbers and choices from fixed lists",
    "/admin/queues": "queues as the PBX lists them; the replay PBX lists none",
    "/calls/{id}/recording": "audio",
    "/campaigns/{id}/leads/{lead_id}/result": (
        "opens only for a lead its operator dialled, and the replay PBX carries out no"
        " Originate; its text is the preview card's (checked on /campaigns/{id}/next)"
    ),
}
NOT_PAGES = ("/api/", "/healthz", "/ws", "/static", "/openapi")


def routed_pages() -> set[str]:
    """Every GET route of the app that answers with a page (not JSON, files or sockets)."""
    # the router alone is read: no service is asked for anything
    app = create_app(cast(WebServices, None))
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "GET" or path.startswith(NOT_PAGES):
            continue
        if path.endswith((".csv", ".xlsx")):
            continue  # downloads: their text cells are neutralised (tests of list_files)
        routes.add(path)
    return routes


def test_every_routed_page_is_checked_or_said_why_not() -> None:
    covered = {page.route for page in PAGES} | set(NOT_SHOWN)
    assert sorted(routed_pages() - covered) == []
    assert sorted(covered - routed_pages()) == []  # no stale entry either


@pytest.fixture
async def pbx() -> AsyncIterator[ReplayPbx]:
    async with ReplayPbx() as pbx:
        yield pbx


@pytest.fixture
async def world(db: async_sessionmaker[AsyncSession]) -> hw.World:
    """Staff and the website, there before the server starts (it reads the phones then)."""
    world = hw.World()
    world.ids["boss"], world.ids["site_token"] = await hw.add_staff(db, world)
    return world


@pytest.fixture
async def server(
    pbx: ReplayPbx, world: hw.World, database_url: str, tmp_path: Path
) -> AsyncIterator[LiveServer]:
    """The whole product (``serve``) with the replay PBX as its Asterisk: no sandbox."""
    settings = load_settings(
        {
            "CALLCENTER_HTTP_PORT": str(free_tcp_port()),
            "CALLCENTER_AGI_PORT": str(free_tcp_port()),
            "CALLCENTER_DATA_DIR": str(tmp_path / "data"),
            "CALLCENTER_RECORDINGS_DIR": str(tmp_path / "recordings"),
            "CALLCENTER_AMI_HOST": pbx.host,
            "CALLCENTER_AMI_PORT": str(pbx.port),
        }
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_ready(address: str) -> None:
        ready.set_result(address)

    task = asyncio.create_task(
        serve(settings, stop=stop, on_ready=on_ready, database_url=database_url)
    )
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=30, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()  # raises what stopped it
        yield LiveServer(await asyncio.wait_for(ready, 1), settings)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


# what a page holds once drawn: its visible text (with form values and options), and
# every trace a payload would leave had it been taken for HTML
_INSPECT = """() => {
  const texts = [document.title, document.body.innerText];
  for (const el of document.querySelectorAll("input, textarea")) texts.push(el.value);
  for (const el of document.querySelectorAll("option")) texts.push(el.textContent);
  const handlers = [];
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) {
      if (a.name.startsWith("on")) handlers.push(el.tagName + " " + a.name);
    }
  }
  return {
    xss: typeof window.__xss,
    text: texts.join("\\n"),
    handlers,
    injected: document.querySelectorAll('img[src="x"], svg[onload], script:not([src])').length,
    javascriptLinks: Array.from(document.querySelectorAll("a[href], area[href], form[action]"))
      .map((a) => a.href || a.action || "").filter((u) => /^\\s*javascript:/i.test(u)),
  };
}"""


async def inspect(page: Any, server: LiveServer, path: str, shows: tuple[str, ...]) -> list[str]:
    """What is wrong with one page: an empty list when it passes."""
    problems = []
    if path:  # else the page as it is now, drawn by its script
        response = await page.goto(server.address + path)
        if response is None or response.status != 200:
            return [f"answered {response.status if response else 'nothing'}"]
        csp = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in csp or "unsafe-" in csp:
            problems.append(f"CSP {csp!r}")
    await page.wait_for_load_state("networkidle")
    await asyncio.sleep(0.3)  # an img's onerror fires after its failed load
    seen = await page.evaluate(_INSPECT)
    if seen["xss"] != "undefined":
        problems.append("a payload ran (window.__xss set)")
    if seen["handlers"] or seen["injected"]:
        problems.append(f"markup from a payload: {seen['handlers']}, {seen['injected']} elements")
    if seen["javascriptLinks"]:
        problems.append(f"javascript: links {seen['javascriptLinks']}")
    for tag in shows:
        if literal(tag) not in seen["text"]:
            problems.append(f"{tag} not shown as text")
    if "{{7*7}}" not in seen["text"] and shows:
        problems.append("the template payload was evaluated")
    return problems


# what a spreadsheet runs: a cell starting =, +, -, @ (spaces before it too); a number
# such as +79261000002 is only a number
_FORMULA = re.compile(r"^ *[=+\-@](?!\d+$)")


async def formulas_in(page: Any, url: str) -> list[str]:
    """What is wrong with a CSV download: a cell a spreadsheet would run as a formula,
    or no row from the planted CSV at all."""
    response = await page.request.get(url)
    if response.status != 200:
        return [f"answered {response.status}"]
    text = (await response.text()).lstrip("\ufeff")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
    cells = [cell for row in csv.reader(io.StringIO(text), dialect) for cell in row]
    problems = [f"a formula: {cell!r}" for cell in cells if _FORMULA.match(cell)]
    if not any("csvformula" in cell for cell in cells):
        problems.append("the planted row is not in it")
    return problems


async def hostile_page(browser: Any, server: LiveServer, login: str) -> Any:
    """A signed-in page with the CSP off: only escaping keeps the payloads inert."""
    context = await browser.new_context(bypass_csp=True)
    page = await signed_in_page(context, server, login)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.dismiss()))
    return page


async def test_hostile_text_is_shown_literally_on_every_page(
    browser: Any, server: LiveServer, pbx: ReplayPbx, world: hw.World
) -> None:
    boss_id, site_token = int(world.ids["boss"]), str(world.ids["site_token"])
    assert (await wait_ami_connected(server.address))["ami"]["connected"]
    # boss's console is open while the task is given to him: it pops up as a toast
    pages = {login: await hostile_page(browser, server, login) for login in VIEWERS}
    async with hw.Staff(server.address, "root") as root, hw.Staff(server.address, "boss") as boss:
        await hw.plant_catalogues(root)
        lead = await hw.plant_lead(server.address, site_token)
        world.ids["lead"] = lead["contact_id"]
        await hw.plant_staff_text(boss, boss_id, world)
        await hw.plant_campaign(boss, world)
        await hw.plant_import(pages["boss"], server.address, world)

    failures: dict[str, list[str]] = {}

    async def check(entry: Page) -> None:
        page = pages[entry.viewer]
        problems = await inspect(page, server, world.path(entry.path), entry.shows)
        problems += [f"script error: {e}" for e in page.js_errors]
        page.js_errors.clear()
        if problems:
            failures[f"{entry.path} ({entry.when})"] = problems

    # the task given to boss while his page was open popped up as a toast (live.js)
    toast = pages["boss"].get_by_test_id("task-toast").filter(has_text=hw.hostile("task"))
    await toast.first.wait_for(timeout=5000)
    if problems := await inspect(pages["boss"], server, "", ("task", "client")):
        failures["task toast"] = problems
    await pages["boss"].evaluate("() => sessionStorage.removeItem('cc-toasts')")

    await hw.ring(pbx, world)
    await pages["boss"].goto(server.address + "/")
    pop = pages["boss"].locator(f'[data-testid=pop][data-linkedid="{world.callers["answered"]}"]')
    await pop.wait_for(timeout=5000)
    for entry in (p for p in PAGES if p.when == "ringing"):
        await check(entry)
    await hw.hang_up(pbx, world)
    await pop.and_(pages["boss"].locator("[data-state=wrapup]")).wait_for(timeout=5000)
    for entry in (p for p in PAGES if p.when == "wrapup"):
        await check(entry)
    await asyncio.sleep(1.0)  # the call log writes both calls
    for entry in (p for p in PAGES if p.when == "after"):
        await check(entry)

    # the downloads a spreadsheet opens: a formula from the CSV stays text there
    for download in ("/imports/{import}/problems.csv", "/clients/export.csv?q=csvformula"):
        problems = await formulas_in(pages["boss"], server.address + world.path(download))
        if problems:
            failures[download] = problems

    # the login typed on a failed sign-in is shown back in its input, as text
    visitor = await (await browser.new_context(bypass_csp=True)).new_page()
    dialogs: list[str] = []
    visitor.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await visitor.goto(server.address + "/login")
    await visitor.fill("input[name=login]", hw.hostile("login"))
    await visitor.fill("input[name=password]", "wrong")
    await visitor.click("form.login button[type=submit]")
    await visitor.wait_for_load_state("networkidle")
    seen = await visitor.evaluate(_INSPECT)
    if seen["xss"] != "undefined" or seen["handlers"] or dialogs:
        failures["/login (failed sign-in)"] = [f"a payload ran: {seen['handlers']} {dialogs}"]
    elif hw.hostile("login") not in seen["text"]:
        failures["/login (failed sign-in)"] = ["the login typed is not shown back"]

    # a visitor's own browser posts a customer site's form: the answer page is ours
    site_page = f"""<form method="post" action="{server.address}/api/v1/leads">
      <input name="token" value="{site_token}"><input name="name"><input name="email">
      <button type="submit">Send</button></form>"""
    await visitor.set_content(site_page)
    await visitor.fill("input[name=name]", hw.hostile("visitor"))
    await visitor.fill("input[name=email]", hw.hostile("visitormail"))  # not an address
    await visitor.click("button[type=submit]")
    await visitor.locator("[data-testid=lead-answer][data-sent=no]").wait_for(timeout=5000)
    seen = await visitor.evaluate(_INSPECT)
    if seen["xss"] != "undefined" or seen["handlers"] or seen["injected"] or dialogs:
        failures["lead answer page"] = [f"a payload ran: {seen['handlers']} {dialogs}"]

    assert failures == {}
