"""Shared helpers for the submission and value tests: posting, row counts, problem checks."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.catalog import read_catalog
from app.domain.periods import today_in_shanghai
from app.services import rollup

API = "/api/v1"
MEASUREMENTS = f"{API}/measurements"
HISTORY = f"{API}/measurements/history"

# Catalog codes the tests lean on (seeds/indicators.yaml).
RATE = "t03-campus-network-compliance"  # rate, district level, yearly, 0..100
GROSS = "t22-preschool-enrolment"  # rate, district level, yearly, 0..200
STOCK = "t14-practice-base"  # stock, district level, yearly, 0..100
SEMESTER = "t23-oversized-classes"  # stock, district level, per semester
FLOW = "t26-rural-funding"  # flow, city level, per quarter, yuan

CITY, HUANGDAO, SHINAN = "370200", "370211", "370202"
TABLES = ("measurements", "measurement_revisions", "yearly_values")


async def settled(session: AsyncSession) -> None:
    """Roll up every waiting write (what any read of the API does first), for tests that read kept rows directly."""
    await session.rollback()
    assert session.bind is not None
    writer = async_sessionmaker(session.bind.execution_options(sqlite_begin="IMMEDIATE"))  # type: ignore[union-attr]
    async with writer() as s, s.begin():
        await rollup.roll_up(s, await read_catalog(s), wait=True, limit=1_000_000)


async def count_rows(session: AsyncSession, table: str) -> int:
    """Rows in one table, read in a transaction of its own so no stale snapshot is kept."""
    assert table in (*TABLES, "idempotency_records"), table
    await settled(session)
    try:
        return int(await session.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)
    finally:
        await session.rollback()


async def counts(session: AsyncSession) -> dict[str, int]:
    """Row counts of the three tables a submission writes."""
    return {t: await count_rows(session, t) for t in TABLES}


def _flag(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


async def post(
    client: httpx.AsyncClient,
    token: str | None,
    body: dict[str, Any] | bytes | str,
    *,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    **params: object,
) -> httpx.Response:
    """POST /measurements: a dict goes as JSON, bytes/str as-is (CSV unless content_type says otherwise)."""
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    query = {k: _flag(v) for k, v in params.items()}
    if isinstance(body, dict):
        return await client.post(MEASUREMENTS, json=body, headers=h, params=query)
    h["Content-Type"] = content_type or "text/csv"
    data = body.encode() if isinstance(body, str) else body
    return await client.post(MEASUREMENTS, content=data, headers=h, params=query)


def rate(indicator: str = RATE, n: float | None = 971, d: float | None = 1000, **extra: Any) -> dict[str, Any]:
    """One rate row given as numerator/denominator (plus any other field)."""
    row: dict[str, Any] = {"indicator": indicator, **extra}
    if n is not None:
        row["numerator"] = n
    if d is not None:
        row["denominator"] = d
    return row


def batch(unit: str | None, period: str | None, *values: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"values": list(values)}
    if unit is not None:
        body["unit"] = unit
    if period is not None:
        body["period"] = period
    return body


def next_year() -> str:
    return str(today_in_shanghai().year + 1)


@asynccontextmanager
async def lenient_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client that turns an unhandled app error into the 500 a real client would get, instead of raising."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://attain.test") as c:
        yield c


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status; returns its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    doc: dict[str, Any] = r.json()
    assert doc["status"] == status and doc["title"] and doc["type"].startswith("https://") and doc["detail"]
    return doc


def codes(doc: dict[str, Any]) -> list[tuple[int, str]]:
    """(index, code) of every conflict of an answer."""
    return [(c["index"], c["code"]) for c in doc["conflicts"]]


def tally(created: int = 0, updated: int = 0, unchanged: int = 0, rejected: int = 0) -> dict[str, int]:
    return {"created": created, "updated": updated, "unchanged": unchanged, "rejected": rejected}


async def current(client: httpx.AsyncClient, token: str, **params: str) -> list[dict[str, Any]]:
    """GET /measurements (first page) items."""
    r = await client.get(MEASUREMENTS, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items
