"""A manager imports a messy CSV in chromium, watches it run and reads the error report."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.users import add_user
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

FILLER = 20_000  # enough rows that the import is still running when its page opens

MESSY = (
    "ФИО;Телефон;Компания;Метки\r\n"
    "Петров Иван Сергеевич;8 (495) 123-45-67;ООО «Ромашка»;vip\r\n"
    "Сидорова Анна;позвонить позже;ИП Сидорова;\r\n"  # row 3: no number in it
    "Кузнецов Олег;+7 495 123 45 67;;\r\n"  # row 4: Петров's number again
    '=HYPERLINK("http://evil.example/","Жми");+7 916 555-44-33;;\r\n'  # row 5: imported as text
).encode("cp1251")
# glued from two sources: row 6 was saved in UTF-8, row 7 in neither encoding
MESSY += "Щукина Ёлка;+7 916 555-44-34;;\r\n".encode()
MESSY += b"\xc3\x28\x98;+7 916 555-44-35;;\r\n"
MESSY += "".join(f"Клиент Номер{n};+7 917 {n:07d};;\r\n" for n in range(FILLER)).encode("cp1251")


async def test_a_manager_imports_a_messy_csv_and_reads_the_error_report(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session:
        await add_user(
            session,
            login="boss",
            full_name="Ольга Руководитель",
            role="manager",
            password="correct-horse",
            extension="110",
            device="PJSIP/op110",
        )
        await session.commit()
    page = await signed_in_page(browser, live_server, "boss")
    await page.click("[data-testid=nav-imports]")
    await page.click("[data-testid=new-import]")
    await page.set_input_files(
        "input[name=file]",
        {"name": "лиды.csv", "mimeType": "text/csv", "buffer": MESSY},
    )
    await page.click("[data-testid=upload-form] button[type=submit]")

    await page.get_by_test_id("mapping-form").wait_for()
    assert await page.get_by_test_id("detected-encoding").inner_text() == "cp1251"
    assert "semicolon" in await page.get_by_test_id("detected-delimiter").inner_text()
    assert "Петров Иван Сергеевич" in await page.locator("table.preview").inner_text()
    # the proposed mapping is right but for the tags, which the manager picks by hand
    assert await page.locator("select[data-column='ФИО']").input_value() == "full_name"
    assert await page.locator("select[data-column='Телефон']").input_value() == "phone"
    await page.select_option("select[data-column='Метки']", "tags")
    await page.click("[data-testid=start-import]")

    await page.locator("[data-testid=import]").wait_for()
    await page.locator("[data-testid=import][data-status=done]").wait_for(timeout=60_000)
    assert await page.get_by_test_id("count-created").inner_text() == str(FILLER + 3)
    assert await page.get_by_test_id("count-duplicates").inner_text() == "1"
    assert await page.get_by_test_id("count-rejected").inner_text() == "2"
    problems = page.locator("[data-testid=import-problems] tbody tr")
    assert await problems.count() == 3
    garbled = await page.locator("[data-testid=import-problems] tr[data-row='7']").inner_text()
    assert "ни в UTF-8, ни в Windows-1251" in garbled
    bad_phone = await page.locator("[data-testid=import-problems] tr[data-row='3']").inner_text()
    assert "Телефон" in bad_phone and "это не номер телефона" in bad_phone
    assert "Сидорова Анна;позвонить позже" in bad_phone
    duplicate = await page.locator("[data-testid=import-problems] tr[data-row='4']").inner_text()
    assert "дубликат строки 2" in duplicate and "+74951234567" in duplicate

    # the good rows are clients now
    await page.goto(live_server.address + "/clients?q=" + "Петров")
    names = page.get_by_test_id("client-name")
    await names.first.wait_for(timeout=5000)
    assert "Петров Иван Сергеевич" in await names.all_inner_texts()
    await page.goto(live_server.address + "/clients?q=" + "Щукина")
    await names.first.wait_for(timeout=5000)
    assert await names.all_inner_texts() == ["Щукина Ёлка"]
    await page.goto(live_server.address + "/clients?q=" + "HYPERLINK")
    await names.first.wait_for(timeout=5000)
    assert await names.all_inner_texts() == ['=HYPERLINK("http://evil.example/","Жми")']
    assert page.js_errors == []
