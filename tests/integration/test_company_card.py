"""The company card: its own details and typed fields, its contact persons, who sees whom."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings
from callcenter.models import AuditEntry, Company, Contact, ContactPhone, CustomFieldDefinition
from tests.integration.test_client_card import Setup, app_for, setup

pytestmark = pytest.mark.db
__all__ = ["app_for", "setup"]  # fixtures


async def test_a_company_lists_its_persons_and_keeps_its_own_typed_fields(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        ivan = await session.get(Contact, setup.ivan)
        assert ivan is not None and ivan.company_id is not None
        company_id = ivan.company_id
        colleague = Contact(
            first_name="Мария",
            last_name="Орлова",
            company_id=company_id,
            position="Бухгалтер",
            manager_id=setup.operators["101"],
        )
        session.add(colleague)
        await session.flush()
        session.add(
            ContactPhone(contact_id=colleague.id, raw="8 916 111-22-33", e164="+79161112233")
        )
        session.add(
            CustomFieldDefinition(
                entity="company", key="employees", label_ru="Сотрудников", value_type="number"
            )
        )
        await session.commit()
    url = f"/companies/{company_id}"

    anna = await app_for("op101")
    card = await anna.get(f"/clients/{setup.ivan}")
    assert f'href="{url}"' in await card.text()  # the client card links its company
    page = await (await anna.get(url)).text()
    assert f'data-contact-id="{setup.ivan}"' in page and f'data-contact-id="{colleague.id}"' in page
    assert "+79161112233" in page and "Бухгалтер" in page

    # a wrong value is named and nothing is stored
    response = await anna.post(
        url, data={"name": "ООО «Ромашка»", "tax_id": "7701234567", "cf_employees": "много"}
    )
    assert response.status == 400
    assert 'data-testid="error-custom_fields.employees"' in await response.text()
    response = await anna.post(url, data={"name": "  ", "tax_id": "7701234567"})
    assert response.status == 400
    async with db() as session:
        company = await session.get(Company, company_id)
        assert company is not None and company.tax_id is None

    response = await anna.post(
        url,
        data={"name": "ООО «Ромашка»", "tax_id": "7701234567", "cf_employees": "120"},
        allow_redirects=False,
    )
    assert response.status == 303
    async with db() as session:
        company = await session.get(Company, company_id)
        assert company is not None
        assert (company.tax_id, company.custom_fields) == ("7701234567", {"employees": 120})
        reads = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "company.read", AuditEntry.entity_id == str(company_id)
            )
        )
        assert reads == 3  # the page and the two refused forms shown again

    # an operator limited to their own clients sees only those among the persons
    async with db() as session:
        await center_settings.save(session, "operators_see_own_clients_only", True, setup.boss)
        await session.commit()
    page = await (await anna.get(url)).text()
    assert f'data-contact-id="{colleague.id}"' in page
    assert f'data-contact-id="{setup.ivan}"' not in page
    assert (await anna.get("/companies/999999")).status == 404
