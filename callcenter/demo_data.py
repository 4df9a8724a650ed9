"""Demo data: staff of every role, Russian clients with phones typed every which way.

Seeding is idempotent: a database that already has the demo admin is left alone,
so restarting the demo never duplicates anything or loses what a visitor entered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contact_geography import fill_from_first_phone
from callcenter.models import (
    AdChannel,
    Company,
    Contact,
    ContactPhone,
    Disposition,
    PipelineStage,
    RefusalReason,
    TrackingNumber,
    User,
)
from callcenter.phones import to_e164
from callcenter.users import add_user


@dataclass(frozen=True)
class DemoUser:
    login: str
    full_name: str
    role: str
    extension: str | None = None

    @property
    def device(self) -> str | None:
        # the sandbox's PJSIP endpoints are named op101..op110
        return f"PJSIP/op{self.extension}" if self.extension else None


DEMO_USERS = (
    DemoUser("op101", "Анна Смирнова", "operator", "101"),
    DemoUser("op102", "Дмитрий Кузнецов", "operator", "102"),
    DemoUser("op103", "Елена Попова", "operator", "103"),
    DemoUser("op104", "Сергей Васильев", "operator", "104"),
    DemoUser("supervisor", "Ольга Морозова", "supervisor", "109"),
    DemoUser("manager", "Игорь Волков", "manager"),
    DemoUser("admin", "Администратор", "admin"),
)

AD_CHANNELS = ("Яндекс.Директ", "Сайт", "Рекомендация", "Авито", "Выставка")
# DID -> ad channel; the sandbox's simulated callers dial these numbers
TRACKING_NUMBERS = {"+74951112233": "Яндекс.Директ", "+74951112244": "Сайт"}
# the defaults migration 0004 installs; the demo adds whichever an admin removed
REFUSAL_REASONS = ("Дорого", "Не актуально", "Выбрали конкурента", "Нет бюджета", "Не дозвонились")
STAGES = (
    ("Новая заявка", False, False),
    ("Квалификация", False, False),
    ("Переговоры", False, False),
    ("Счёт выставлен", False, False),
    ("Успешно", True, False),
    ("Отказ", False, True),
)
DISPOSITIONS = (
    ("sale", "Продажа", "Sale", True, False, False),
    ("callback", "Перезвонить", "Call back", False, False, True),
    ("not_interested", "Не интересно", "Not interested", False, False, False),
    ("do_not_call", "Не звонить", "Do not call", False, True, False),
    ("wrong_number", "Ошибочный номер", "Wrong number", False, False, False),
)
COMPANIES = (
    "ООО «Ромашка»",
    "АО «СеверСталь-Сервис»",
    "ИП Григорьев",
    "ООО «Уральские окна»",
    "ЗАО «ТехноЛайн»",
    "ООО «Волга-Логистик»",
    "ООО «Сибирский мёд»",
    "АО «Балтийская верфь»",
)
FIRST_NAMES = ("Иван", "Пётр", "Алексей", "Михаил", "Николай", "Андрей", "Юрий", "Виктор")
FIRST_NAMES_F = ("Мария", "Татьяна", "Наталья", "Светлана", "Ирина", "Ксения", "Юлия", "Вера")
LAST_NAMES = ("Иванов", "Петров", "Соколов", "Лебедев", "Козлов", "Новиков", "Фёдоров", "Орлов")
# the same kind of number written as people really write it
PHONE_FORMATS = (
    "8 ({a}) {b}-{c}-{d}",
    "+7 {a} {b}{c}{d}",
    "7{a}{b}{c}{d}",
    "8-{a}-{b}-{c}-{d}",
    "({a}) {b} {c} {d}",
    "+7({a}){b}-{c}{d}",
)
AREA_CODES = ("495", "499", "812", "343", "383", "916", "926", "903", "985")


@dataclass(frozen=True)
class DemoCaller:
    """A number a simulated caller presents, and the name on it."""

    number: str
    name: str


def _feminine(last_name: str) -> str:
    return last_name + "а"


def _phone(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**7):07d}"
    return rng.choice(PHONE_FORMATS).format(
        a=rng.choice(AREA_CODES), b=digits[:3], c=digits[3:5], d=digits[5:]
    )


async def is_seeded(session: AsyncSession) -> bool:
    return (await session.execute(select(User.id).where(User.login == "admin"))).first() is not None


async def seed(
    session: AsyncSession,
    passwords: dict[str, str],
    *,
    region: str = "RU",
    contacts: int = 60,
    seed_value: int = 2026,
) -> bool:
    """Load the demo data unless it is already there; True when it was loaded."""
    if await is_seeded(session):
        return False
    rng = random.Random(seed_value)  # noqa: S311 - made-up demo people, not secrets
    staff = {}
    for person in DEMO_USERS:
        staff[person.login] = await add_user(
            session,
            login=person.login,
            full_name=person.full_name,
            role=person.role,
            password=passwords[person.login],
            extension=person.extension,
            device=person.device,
        )
    channels = {name: AdChannel(name=name) for name in AD_CHANNELS}
    session.add_all(channels.values())
    await session.flush()
    session.add_all(
        TrackingNumber(did_e164=did, ad_channel_id=channels[name].id, label=name)
        for did, name in TRACKING_NUMBERS.items()
    )
    reasons = set((await session.execute(select(RefusalReason.name))).scalars())
    session.add_all(RefusalReason(name=name) for name in REFUSAL_REASONS if name not in reasons)
    stages = set((await session.execute(select(PipelineStage.name))).scalars())
    session.add_all(
        PipelineStage(name=name, position=i, is_won=won, is_lost=lost)
        for i, (name, won, lost) in enumerate(STAGES)
        if name not in stages
    )
    codes = set((await session.execute(select(Disposition.code))).scalars())
    session.add_all(
        Disposition(
            code=code,
            label_ru=ru,
            label_en=en,
            is_success=success,
            is_dnc=dnc,
            needs_callback=callback,
            position=i,
        )
        for i, (code, ru, en, success, dnc, callback) in enumerate(DISPOSITIONS)
        if code not in codes
    )
    companies = [Company(name=name) for name in COMPANIES]
    session.add_all(companies)
    await session.flush()

    managers = [staff["manager"].id, staff["op101"].id, staff["op102"].id]
    used: set[str] = set()
    for _ in range(contacts):
        female = rng.random() < 0.5
        first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        contact = Contact(
            first_name=first,
            last_name=_feminine(last) if female else last,
            company_id=rng.choice(companies).id if rng.random() < 0.6 else None,
            manager_id=rng.choice(managers) if rng.random() < 0.5 else None,
            status="client" if rng.random() < 0.4 else "lead",
            ad_channel_id=rng.choice(list(channels.values())).id,
        )
        session.add(contact)
        await session.flush()
        for _ in range(rng.choice((1, 1, 2))):
            raw = _phone(rng)
            e164 = to_e164(raw, region)
            if e164 is None or e164 in used:
                continue
            used.add(e164)
            session.add(ContactPhone(contact_id=contact.id, raw=raw, e164=e164))
        await session.flush()
        await fill_from_first_phone(session, contact)
    return True


async def demo_callers(session: AsyncSession, *, unknown: int = 5) -> list[DemoCaller]:
    """Numbers for simulated inbound calls: known clients (as a carrier might send
    them, 8XXXXXXXXXX or +7XXXXXXXXXX) and a few strangers."""
    rows = await session.execute(
        select(ContactPhone.e164, Contact.first_name, Contact.last_name)
        .join(Contact, Contact.id == ContactPhone.contact_id)
        .order_by(ContactPhone.id)
    )
    callers = []
    for i, (e164, first, last) in enumerate(rows):
        national = e164.removeprefix("+7")
        number = "8" + national if i % 2 else e164.lstrip("+")
        callers.append(DemoCaller(number, f"{first} {last}"))
    callers.extend(DemoCaller(f"8916{7000000 + i:07d}", "") for i in range(unknown))
    return callers
