"""Contract search at a million contracts: what the console's `/` costs (its page of 500
and its count, the two reads a search makes), best of three after a warm-up.

Usage::

    .venv/bin/python benchmarks/search.py                    # a fresh SQLite file (~3 min to fill)
    .venv/bin/python benchmarks/search.py --url postgresql://…/db   # an empty PostgreSQL database

The contracts go in through the schema's triggers (SQLite) and indexes, as an import's would.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import harness  # noqa: F401 - puts the repository on sys.path

from kassa24_console.store import Store, views

FIRST = ["Айгерим", "Ирина", "Әлия", "Данияр", "Сергей", "Гүлнар"]
LAST = ["Нурланова", "Петрова", "Қасымқызы", "Ахметов", "Иванов", "Өтеғұлова", "Смагулов"]
SEARCHES = ["нурланова 12345", "123456", "дог-99999/", "c-77777", "4567/", "Ирина Нурланова 9999", "ӘЛИЯ ҚАСЫМ"]


def rows(count: int):  # type: ignore[no-untyped-def]
    for i in range(1, count + 1):
        yield f"73{i:08d}", f"{FIRST[i % 6]} {LAST[(i // 7) % 7]} {i}", f"C-{i}", f"ДОГ-{i}/{i % 97}"


async def fill(url: str, count: int) -> None:
    store = Store(url)
    await store.open()
    await store.close()
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.split("///", 1)[1]) as db:
            data = list(rows(count))
            db.executemany(
                "INSERT INTO accounts (project_id, customer_id, currency, name, updated_at)"
                " VALUES (1234, ?, 'KZT', ?, 0)",
                [(c, n) for c, n, _, _ in data],
            )
            db.executemany(
                "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text,"
                " updated_at, version) VALUES (1234, ?, ?, ?, 100, 0, '', 0, 1)",
                [(i, c, number) for c, _, i, number in data],
            )
            db.execute("ANALYZE")
        return
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
    try:
        data = list(rows(count))
        await connection.copy_records_to_table(
            "accounts", records=[(1234, c, "KZT", n, 0) for c, n, _, _ in data],
            columns=["project_id", "customer_id", "currency", "name", "updated_at"],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "contracts", records=[(1234, i, c, number, 100, 0, "", 0, 1) for c, _, i, number in data],
            columns=["project_id", "id", "customer_id", "number", "payment", "status_code", "status_text", "updated_at",
                     "version"],
        )  # fmt: skip
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def measure(url: str) -> list[tuple[str, int, int, float]]:
    store = Store(url)
    results = []
    try:
        for search in SEARCHES:
            await store.read(views.contracts_page, search)
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                page = await store.read(views.contracts_page, search)
                found = await store.read(views.contracts_count, search)
                best = min(best, time.perf_counter() - started)
            results.append((search, len(page), found, best * 1000))
    finally:
        await store.db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="an empty database to fill (default: a fresh SQLite file)")
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--filled", action="store_true", help="the database is already filled")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='k24-search-')) / 'search.db'}"
    if not args.filled:
        asyncio.run(fill(url, args.contracts))
    print("| search | shown | matches | page + count, ms |\n|---|---:|---:|---:|")
    for search, shown, found, ms in asyncio.run(measure(url)):
        print(f"| {search} | {shown} | {found} | {ms:.1f} |")


if __name__ == "__main__":
    main()
