"""Client search against a real PostgreSQL: the trigram indexes, the page and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.client_search import phone_patterns, search_clients
from callcenter.models import Company, Contact, ContactEmail, ContactPhone
from callcenter.settings import load_settings
from tests.integration.cti_helpers import make_world
from tests.integration.test_web import ClientFactory, sign_in, unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db


@pytest.fixture
async def base(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Иван Петров of ООО «Ромашка» (+74951234567), a namesake, a merged duplicate."""
    world = await make_world(db)
    async with db() as session:
        session.add(ContactEmail(contact_id=world.contact_id, email="ivan.petrov@romashka.ru"))
        other = Company(name="АО «Лютик»")
        session.add(other)
        await session.flush()
        maria = Contact(first_name="Мария", last_name="Петрова", company_id=other.id)
        duplicate = Contact(
            display_name="Петров И. (дубль)", merged_into_id=world.contact_id, status="client"
        )
        session.add_all([maria, duplicate])
        await session.flush()
        session.add_all(
            [
                ContactPhone(contact_id=maria.id, raw="+7 916 765-43-21", e164="+79167654321"),
                ContactPhone(contact_id=duplicate.id, raw="84951234500", e164="+74951234500"),
                ContactEmail(contact_id=duplicate.id, email="petrov.dup@romashka.ru"),
            ]
        )
        await session.commit()
        return {"ivan": world.contact_id, "maria": maria.id, "duplicate": duplicate.id}


async def found(db: async_sessionmaker[AsyncSession], query: str, **kwargs: Any) -> list[int]:
    async with db() as session:
        return [
            hit.contact_id for hit in await search_clients(session, query, region="RU", **kwargs)
        ]


@pytest.mark.parametrize(
    "query", ["1234567", "495 123", "8-495-12", "8 (495) 123-45-67", "+7 495 1234567", "74951"]
)
async def test_finds_by_a_phone_fragment_in_any_format(
    db: async_sessionmaker[AsyncSession], base: dict[str, int], query: str
) -> None:
    assert await found(db, query) == [base["ivan"]]


async def test_a_trunk_prefix_fragment_matches_the_number_start_only() -> None:
    assert phone_patterns("8-495-12", "RU") == ("%849512%", "+749512%", "+849512%")
    assert phone_patterns("+8 495", "RU") == ("%8495%", None, "+8495%")
    assert phone_patterns("Петров", "RU") is None


@pytest.mark.parametrize("query", ["петров", "ПЕТРОВ", "Петров Иван", "иван петров", "ван"])
async def test_finds_by_a_name_fragment_whatever_the_case(
    db: async_sessionmaker[AsyncSession], base: dict[str, int], query: str
) -> None:
    ids = await found(db, query)
    assert base["ivan"] in ids
    assert base["duplicate"] not in ids


async def test_leading_matches_come_first(
    db: async_sessionmaker[AsyncSession], base: dict[str, int]
) -> None:
    assert await found(db, "петров") == [base["ivan"], base["maria"]]
    assert await found(db, "петрова") == [base["maria"]]


async def test_finds_by_company(db: async_sessionmaker[AsyncSession], base: dict[str, int]) -> None:
    async with db() as session:
        hits = await search_clients(session, "ромашк", region="RU")
    assert [(h.contact_id, h.company, h.matched_by) for h in hits] == [
        (base["ivan"], "ООО «Ромашка»", "company")
    ]
    assert hits[0].phones == ("+74951234567",)
    assert hits[0].manager_name == "Дмитрий Кузнецов"


async def test_finds_by_e_mail(db: async_sessionmaker[AsyncSession], base: dict[str, int]) -> None:
    assert await found(db, "IVAN.PETROV@") == [base["ivan"]]
    assert await found(db, "@romashka.ru") == [base["ivan"]]  # the duplicate is merged


@pytest.mark.parametrize("query", ["romashka.ru", "ivan.petrov", "PETROV@ROMASHKA"])
async def test_finds_by_a_piece_of_an_address_typed_without_its_at(
    db: async_sessionmaker[AsyncSession], base: dict[str, int], query: str
) -> None:
    async with db() as session:
        hits = await search_clients(session, query, region="RU")
    assert [(h.contact_id, h.matched_by) for h in hits] == [(base["ivan"], "email")]


async def test_a_latin_name_is_listed_once_when_its_address_matches_too(
    db: async_sessionmaker[AsyncSession], base: dict[str, int]
) -> None:
    async with db() as session:
        ivan = await session.get(Contact, base["ivan"])
        assert ivan is not None
        ivan.display_name = "Ivan Petrov"
        await session.commit()
    async with db() as session:
        hits = await search_clients(session, "petrov", region="RU")
    assert [(h.contact_id, h.matched_by) for h in hits] == [(base["ivan"], "name")]


async def test_merged_duplicates_are_never_found(
    db: async_sessionmaker[AsyncSession], base: dict[str, int]
) -> None:
    for query in ("дубль", "1234500", "petrov.dup@romashka.ru", "petrov.dup"):
        assert await found(db, query) == [], query


async def test_manager_filter_keeps_their_clients(
    db: async_sessionmaker[AsyncSession], base: dict[str, int]
) -> None:
    async with db() as session:
        ivan = await session.get(Contact, base["ivan"])
        assert ivan is not None and ivan.manager_id is not None
        manager = ivan.manager_id
    assert await found(db, "петров", only_manager_id=manager) == [base["ivan"]]
    assert await found(db, "петров", only_manager_id=manager + 1000) == []


@pytest.mark.parametrize("query", ["", " ", "п", "12", "+7", "%", "__"])
async def test_too_short_or_wild_queries_find_nothing(
    db: async_sessionmaker[AsyncSession], base: dict[str, int], query: str
) -> None:
    assert await found(db, query) == []


@pytest.fixture
async def client(
    db: async_sessionmaker[AsyncSession], base: dict[str, int], aiohttp_client: ClientFactory
) -> AsyncIterator[TestClient[Any, Any]]:
    services = WebServices(load_settings({}), db, unconnected_telephony())
    yield await aiohttp_client(create_app(services))


async def test_api_needs_a_session(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/clients", params={"q": "петров"})
    assert response.status == 401
    page = await client.get("/clients", params={"q": "петров"}, allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/login"


async def test_api_and_page_answer_a_signed_in_operator(
    client: TestClient[Any, Any], base: dict[str, int]
) -> None:
    await sign_in(client, "op101", "correct-horse")
    response = await client.get("/api/v1/clients", params={"q": "495 123"})
    assert response.status == 200
    body = await response.json()
    assert [c["contact_id"] for c in body["clients"]] == [base["ivan"]]
    assert body["clients"][0]["name"] == "Петров Иван"
    assert body["clients"][0]["matched_by"] == "phone"

    page = await client.get("/clients", params={"q": "<b>ромашка</b>"})
    html = await page.text()
    assert page.status == 200
    assert "&lt;b&gt;ромашка&lt;/b&gt;" in html and "<b>ромашка" not in html
    html = await (await client.get("/clients", params={"q": "ромашка"})).text()
    assert 'data-dial="+74951234567"' in html
    assert "ООО «Ромашка»" in html and "Клиенты" in html
