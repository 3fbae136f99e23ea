"""A past as_of reads the kept rows valid at that instant; for random histories of writes and withdrawals they equal
a from-scratch rebuild from the value revisions (both databases)."""

import asyncio
import itertools
from datetime import date
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements, yearly
from app.db.types import utcnow
from app.domain.catalog import CITY
from app.services.attainment import rolled
from tests.api.helpers import API, FLOW, HUANGDAO, MEASUREMENTS, RATE, SEMESTER, SHINAN, post, settled
from tests.conftest import Keys

SCHOOLS = ["37021191", "37021192"]  # under 黄岛区
YEARS = itertools.count()  # examples share the test's one database; a year of their own, mostly

op = st.one_of(
    st.tuples(st.just(RATE), st.sampled_from([HUANGDAO, SHINAN, *SCHOOLS]), st.sampled_from([""]),
              st.integers(0, 100), st.booleans()),
    st.tuples(st.just(SEMESTER), st.sampled_from([HUANGDAO, SHINAN, *SCHOOLS]), st.sampled_from(["", "S1", "S2"]),
              st.integers(0, 30), st.booleans()),
    st.tuples(st.just(FLOW), st.just(CITY), st.sampled_from(["", "Q1", "Q2", "Q3", "Q4"]),
              st.integers(1, 9), st.booleans()),
)


async def _apply(client: httpx.AsyncClient, keys: Keys, year: int, step: tuple[Any, ...]) -> None:
    indicator, unit, suffix, number, withdraw = step
    period = f"{year}{suffix}"
    if withdraw:
        r = await client.delete(MEASUREMENTS, headers=keys.auth(keys.admin),
                                params={"indicator": indicator, "unit": unit, "period": period})
        assert r.status_code in (200, 404), r.text
        return
    row: dict[str, Any] = {"indicator": indicator, "unit": unit, "period": period}
    if indicator == RATE:
        row.update(numerator=number, denominator=100 + number)
    else:
        row["value"] = number * 1_000_000 if indicator == FLOW else number
    r = await post(client, keys.admin, {"values": [row]})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert r.json()["conflicts"][0]["code"] == "period_overlap"


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(op, min_size=1, max_size=10), when=st.sampled_from(["paused", "between", "after"]))
async def test_past_as_of_equals_a_rebuild_from_revisions(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, app_ctx: Any, steps: list[tuple[Any, ...]],
    when: str,
) -> None:
    """The roll-up paused until the reads (which roll up first), run between the writes, or left to the worker."""
    for code in SCHOOLS:
        r = await client.post(f"{API}/units", headers=keys.auth(keys.admin),
                              json={"code": code, "name": f"学校{code}", "parent": HUANGDAO, "level": "school"})
        assert r.status_code in (201, 409), r.text
    year = 1900 + next(YEARS) % 100  # a year written before is fine too: both sides read all of it
    instants = [utcnow()]
    app_ctx.state.rollup.paused = when == "paused"
    try:
        for step in steps:
            await _apply(client, keys, year, step)
            instants.append(utcnow())
            if when == "between":
                await settled(session)
        if when == "after":
            await asyncio.sleep(3 * app_ctx.state.settings.rollup_interval_seconds)
    finally:
        app_ctx.state.rollup.paused = False
    await settled(session)
    catalog = await app_ctx.state.catalogs.snapshot(session)
    for as_of in instants:
        kept = yearly.as_series((await yearly.kept_rows(session, indicators=[RATE, SEMESTER, FLOW], years=[year],
                                                        as_of=as_of)).values())
        values = await measurements.values(session, as_of=as_of, start=date(year, 1, 1), end=date(year, 12, 31))
        rebuilt = rolled(catalog, values, date(year, 12, 31))
        await session.rollback()
        assert {k: v for k, v in kept.items() if v} == {k: v for k, v in rebuilt.items() if v}, (as_of, steps)
