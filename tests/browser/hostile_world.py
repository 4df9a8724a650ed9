"""Hostile text planted through the product's own entry points, for the injection test.

Every field a caller, a website visitor or a member of staff controls gets a payload of
its own: a short tag naming the field, then markup that would run script if any page
put it into the page as HTML. Callers come from the replay PBX (frames recorded from
the sandbox Asterisk with their caller ID rewritten); web-form leads through
``POST /api/v1/leads`` with a site's token; staff's text through the JSON API, the
admin forms and a CSV upload, signed in as a browser would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.replay_pbx import ReplayPbx
from callcenter import web_form_sites
from callcenter.users import add_user
from tests.replay_calls import ANSWERED_AFTER, call_frames

# markup, script, a broken-out attribute, an event handler and a template expression;
# ``__xss`` is ``window.__xss`` in an inline handler. Short enough for a stage's 100
PAYLOAD = '"><img src=x onerror=alert(1)><script>__xss=1</script><svg onload=__xss=1>{{7*7}}'
PASSWORD = "correct-horse"
RINGING = ANSWERED_AFTER - 0.5
OP102 = "PJSIP/op102"
# what the answered call's recorded frames say, and the missed call's
CALLER_NAME, CALLER_NUMBER, DID, QUEUE = "Ivan Petrov", "84951234567", "74951112233", "support"
MISSED_NAME, MISSED_NUMBER = "Maria", "84997654321"


def hostile(tag: str) -> str:
    return tag + PAYLOAD


# an e-mail address may hold no space: slashes stand in for them, as browsers allow
HOSTILE_EMAIL = 'leadmail"><img/src=x/onerror=alert(1)>@evil.example'
JAVASCRIPT_URL = "javascript:__xss=1//"


@dataclass
class World:
    """Where the planted text lives: ids of what the pages show."""

    ids: dict[str, int | str] = field(default_factory=dict)
    callers: dict[str, str] = field(default_factory=dict)  # linkedid of each call

    def path(self, template: str) -> str:
        return template.format(**self.ids)


class Staff:
    """A member of staff signed in over HTTP, as their browser would be."""

    def __init__(self, address: str, login: str) -> None:
        self.address, self.login = address, login
        self.http = aiohttp.ClientSession(address, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Staff:
        form = {"login": self.login, "password": PASSWORD}
        async with self.http.post("/login", data=form, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def json(self, method: str, path: str, body: dict[str, Any], status: int = 201) -> Any:
        async with self.http.request(method, path, json=body) as response:
            answer = await response.json()
            assert response.status == status, (path, answer)
            return answer

    async def form(self, path: str, data: Any) -> str:
        """Post a form the way the page does; a refused one (4xx) fails the test."""
        async with self.http.post(path, data=data, allow_redirects=False) as response:
            if response.status not in (200, 201, 303):
                alerts = re.findall(r'class="error"[^>]*>([^<]*)<', await response.text())
                raise AssertionError(f"{path} refused ({response.status}): {alerts}")
            return response.headers.get("Location", "")


def caller_frames(frames: list[str], swaps: dict[str, str]) -> list[str]:
    """Recorded frames with their caller ID, DID and queue rewritten (header values only)."""
    pattern = re.compile("|".join(re.escape(old) for old in swaps))
    return [pattern.sub(lambda m: swaps[m.group(0)], frame) for frame in frames]


ANSWERED_SWAPS = {
    CALLER_NAME: hostile("callername"),
    CALLER_NUMBER: hostile("callernum"),
    DID: hostile("did"),
    f"Queue: {QUEUE}": "Queue: " + hostile("queue"),
}
MISSED_SWAPS = {
    MISSED_NAME: hostile("missedname"),
    MISSED_NUMBER: hostile("missednum"),
    DID: hostile("did"),
}


def answered_call(since: float, until_: float) -> list[str]:
    """The first recorded call, rung on op101 only, from a hostile caller."""
    return caller_frames(call_frames(0, since=since, until=until_, without=OP102), ANSWERED_SWAPS)


def missed_call(index: int, swaps: dict[str, str]) -> list[str]:
    """A recorded call rings op101, and the caller hangs up before anyone answers: the
    frames of the answer are left out, the hang-ups kept."""
    frames = call_frames(index, until=60, without=OP102)
    rung = call_frames(index, until=RINGING, without=OP102)
    ends = [f for f in frames[len(rung) :] if f.startswith("Event: Hangup\r")]
    return caller_frames(rung + ends, swaps)


def pause_frame(reason: str) -> str:
    """What Asterisk sends when a queue member pauses with a reason (QueuePause)."""
    return "\r\n".join(
        [
            "Event: QueueMemberPause",
            "Queue: " + hostile("queue"),
            "MemberName: op102",
            "Interface: PJSIP/op102",
            "StateInterface: PJSIP/op102",
            "Membership: static",
            "Penalty: 0",
            "CallsTaken: 0",
            "LastCall: 0",
            "InCall: 0",
            "Status: 1",
            "Paused: 1",
            "PausedReason: " + reason,
        ]
    )


async def add_staff(db: async_sessionmaker[AsyncSession], world: World) -> tuple[int, str]:
    """boss (a manager with a phone, whose name is hostile), root (admin), op102 (an
    operator with a hostile name) and a website whose name is hostile; its token."""
    async with db() as session:
        boss = await add_user(
            session,
            login="boss",
            full_name=hostile("me"),
            role="manager",
            password=PASSWORD,
            extension="101",
            device="PJSIP/op101",
        )
        await add_user(session, login="root", full_name="Админ", role="admin", password=PASSWORD)
        operator = await add_user(
            session,
            login="op102",
            full_name=hostile("opname"),
            role="operator",
            password=PASSWORD,
            extension="102",
            device="PJSIP/op102",
        )
        _, token = await web_form_sites.add_site(session, hostile("site"), None)
        await session.commit()
    world.ids["op102"] = operator.id
    return boss.id, token


async def plant_catalogues(root: Staff) -> None:
    """What an admin types that everyone else reads: a call result, a custom field, a
    funnel stage, a refusal reason and an ad channel."""
    await root.form("/admin/dispositions", {"code": "xss", "label_ru": hostile("disp")})
    await root.form(
        "/admin/custom-fields",
        {"entity": "contact", "value_type": "text", "key": "xss", "label_ru": hostile("cflabel")},
    )
    await root.form("/admin/stages", {"action": "add", "name": hostile("stage"), "kind": "open"})
    await root.form("/admin/refusal-reasons", {"action": "add", "name": hostile("reason")})
    await root.form("/admin/channels", {"name": hostile("channel"), "utm_source": "xss"})


async def plant_lead(address: str, token: str) -> dict[str, Any]:
    """A website visitor's form, every field hostile, the UTM tag naming the hostile
    ad channel; and one whose page address is a ``javascript:`` URL, which is refused."""
    lead = {
        "name": hostile("leadname"),
        "phone": "+7 916 555-00-11",
        "email": HOSTILE_EMAIL,
        "message": hostile("leadmsg"),
        "page": "https://shop.example/" + hostile("leadpage"),
        "utm_source": "xss",
        "utm_campaign": hostile("utm"),
    }
    headers = {"Authorization": "Bearer " + token}
    async with aiohttp.ClientSession(address) as visitor:
        async with visitor.post("/api/v1/leads", json=lead, headers=headers) as response:
            answer: dict[str, Any] = await response.json()
            assert response.status == 201, answer
        refused = {**lead, "page": JAVASCRIPT_URL}
        async with visitor.post("/api/v1/leads", json=refused, headers=headers) as response:
            assert response.status == 400, await response.text()
    return answer


async def plant_staff_text(boss: Staff, boss_id: int, world: World) -> None:
    """A client with a company, a note, a task, a deal in the hostile stage and a value
    of the hostile custom field, typed by a manager."""
    answer = await boss.json(
        "POST",
        "/api/v1/clients",
        {
            "first_name": hostile("client"),
            "last_name": "Клиентов",
            "company": hostile("company"),
            "position": hostile("position"),
            "phones": ["+7 903 111-22-33"],
            "emails": [JAVASCRIPT_URL.replace("//", "") + "@evil.example"],
            "custom_fields": {"xss": hostile("cfvalue")},
        },
    )
    client = answer["client"]
    world.ids |= {"client": client["id"], "company": client["company"]["id"]}
    await boss.json("POST", f"/api/v1/clients/{client['id']}/notes", {"text": hostile("note")})
    due = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    task = await boss.json(
        "POST",
        "/api/v1/tasks",
        {
            "title": hostile("task"),
            "notes": hostile("tasknotes"),
            "contact_id": client["id"],
            "assignee_id": boss_id,
            "due_at": due,
        },
    )
    world.ids["task"] = task["task"]["id"]
    stages = (await boss.json("GET", "/api/v1/stages", {}, status=200))["stages"]
    stage = next(s for s in stages if s["name"] == hostile("stage"))
    deal = await boss.json(
        "POST",
        "/api/v1/deals",
        {"title": hostile("deal"), "contact_id": client["id"], "stage_id": stage["id"]},
    )
    world.ids["deal"] = deal["id"]


async def plant_campaign(boss: Staff, world: World) -> None:
    """A preview campaign worked by op102, whose script names the client's company."""
    answer = await boss.json(
        "POST",
        "/api/v1/campaigns",
        {
            "name": hostile("campaign"),
            "mode": "preview",
            "script": hostile("script") + " {company}",
            "operator_ids": [world.ids["op102"]],
        },
    )
    world.ids["campaign"] = answer["id"]
    # its leads: a saved segment of every client, hostile name and all, as a dial list
    segment = await boss.json("POST", "/api/v1/segments", {"name": hostile("segment")})
    world.ids["segment"] = segment["id"]
    await boss.form(f"/segments/{segment['id']}/dial-list", {"campaign_id": str(answer["id"])})
    await boss.json("POST", f"/api/v1/campaigns/{answer['id']}/start", {}, status=200)


# the CSV a manager uploads: a hostile header and name, a formula in a row the import
# rejects (no phone in it, so the report shows it) and one it imports as a client's name
CSV_COLUMN = hostile("csvcol").replace('"', "")
CSV_NAME = hostile("csvname").replace('"', "")
CSV_FORMULA = '=HYPERLINK("http://evil.example/","csvformula")'
CSV_FORMULA_NAME = "@SUM(1+1)*cmd|' /C calc'!A0 csvformula"
CSV_BODY = (
    f"ФИО;Телефон;{CSV_COLUMN}\r\n"
    f"{CSV_NAME};+7 926 100-00-01;x\r\n"
    f"{CSV_FORMULA};нет номера;x\r\n"
    f"{CSV_FORMULA_NAME};+7 926 100-00-02;x\r\n"
).encode()
# the name is kept without its folders: no "/" in it, so nothing is cut off
CSV_FILE = "clients><img src=x onerror=alert(1)><svg onload=__xss=1>{{7*7}}.csv"


async def upload_csv(page: Any, address: str) -> str:
    """The CSV uploaded in the browser, as a manager does: its mapping page's address."""
    await page.goto(address + "/imports/new")
    file = {"name": CSV_FILE, "mimeType": "text/csv", "buffer": CSV_BODY}
    await page.set_input_files("input[name=file]", file)
    await page.click("[data-testid=upload-form] button[type=submit]")
    await page.get_by_test_id("mapping-form").wait_for()
    return str(page.url)


async def plant_import(page: Any, address: str, world: World) -> None:
    """One upload left at its mapping page, one imported (its report lists the formula)."""
    world.ids["upload"] = (await upload_csv(page, address)).rsplit("/", 1)[-1]
    await upload_csv(page, address)
    await page.click("[data-testid=start-import]")
    await page.locator("[data-testid=import][data-status=done]").wait_for(timeout=20_000)
    world.ids["import"] = int(str(page.url).rsplit("/", 1)[-1])


async def ring(pbx: ReplayPbx, world: World) -> None:
    """The hostile caller rings op101 (boss), op102 pauses with a hostile reason."""
    frames = answered_call(0, RINGING)
    world.callers["answered"] = _linkedid(frames)
    await pbx.play([*frames, pause_frame(hostile("pause"))])


async def hang_up(pbx: ReplayPbx, world: World) -> None:
    """The answered call talks and ends; then two calls ring and are abandoned."""
    await pbx.play(answered_call(RINGING, 60))
    await pbx.play(missed_call(2, MISSED_SWAPS))
    # one with a number that can be called back: the report of missed calls lists it
    await pbx.play(missed_call(1, {f"Queue: {QUEUE}": "Queue: " + hostile("queue")}))


def _linkedid(frames: list[str]) -> str:
    found = re.search(r"^Linkedid: (\S+)", frames[0], re.MULTILINE)
    assert found is not None
    return found.group(1)
