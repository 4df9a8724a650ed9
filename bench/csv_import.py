"""CSV contact import: rows/s and peak memory for 100,000 and 300,000 rows (flat in file size).

Generates files of Russian names (``russian_names``: real frequencies) with phones in
mixed formats, about 5% bad rows and some duplicates, and imports each into a fresh
database on a throw-away embedded PostgreSQL (or CALLCENTER_TEST_DATABASE_URL's server).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.russian_names import People
from bench.scratch import migrated_database, scratch_server
from callcenter import database
from callcenter.csv_import import import_contacts

FORMATS = ["8 ({a}) {b}-{c}-{d}", "+7{a}{b}{c}{d}", "7-{a}-{b}-{c}{d}", "8{a}{b}{c}{d}"]
MAPPING = {"ФИО": "full_name", "Телефон": "phone", "E-mail": "email", "Компания": "company"}


# landline area codes of cities across Russia's time zones (3 digits; the rest random)
AREA_CODES = ["495", "499", "812", "343", "383", "423", "861", "863", "846", "843", "401", "391"]


def _national_number(seed: int, n: int) -> str:
    """The n-th client's ten digits: three in four are mobiles scattered over the whole
    9xx range (as real lists are: no two share a long prefix), the rest city landlines.
    A function of n, so a duplicate row repeats the same number."""
    rng = random.Random(seed * 1_000_003 + n)
    if rng.random() < 0.75:
        return f"9{rng.randrange(100):02d}{rng.randrange(10_000_000):07d}"
    return f"{rng.choice(AREA_CODES)}{rng.randrange(2_000_000, 10_000_000):07d}"


def write_file(path: Path, rows: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    people = People(seed)
    companies = [people.company() for _ in range(500)]
    with path.open("w", encoding="cp1251", newline="") as out:
        out.write("ФИО;Телефон;E-mail;Компания\n")
        for i in range(rows):
            person = people.person()
            name = " ".join(
                p for p in (person.last_name, person.first_name, person.middle_name) if p
            )
            n = rng.randrange(rows) if rng.random() < 0.03 else i  # ~3% duplicates
            digits = _national_number(seed, n)
            phone = rng.choice(FORMATS).format(
                a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:]
            )
            if rng.random() < 0.05:  # ~5% bad rows
                phone = "нет телефона"
            out.write(f"{name};{phone};client{i}@example.ru;{companies[i % 500]}\n")
    return path.stat().st_size


async def _import(url: str, path: Path, *, trace_memory: bool) -> dict[str, Any]:
    """One import into an empty base; memory tracing slows Python down several times,
    so speed and memory are measured in separate imports."""
    engine = database.make_engine(url)
    db = database.make_sessionmaker(engine)
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        report = await import_contacts(db, path, MAPPING, region="RU")
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
    finally:
        if trace_memory:
            tracemalloc.stop()
        await engine.dispose()
    if trace_memory:
        return {"peak_tracemalloc_mb": round(peak / 1e6, 1)}
    return {
        "rows": report.rows_total,
        "created": report.created,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "seconds": round(seconds, 2),
        "rows_per_s": round(report.rows_total / seconds),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench csv_import")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000])
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="cc-bench-import-"))
    runs = []
    try:
        with scratch_server() as server:
            for rows in args.rows:
                path = folder / f"contacts-{rows}.csv"
                write_file(path, rows)
                figures: dict[str, Any] = {}
                for trace_memory in (False, True):
                    with migrated_database(server, "cc_bench_import") as url:
                        figures |= asyncio.run(_import(url, path, trace_memory=trace_memory))
                path.unlink()
                runs.append(figures)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"runs": runs, "target": {"rows_per_s": 10_000, "memory": "flat in file size"}}
