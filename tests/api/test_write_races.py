"""Races on the write path, through HTTP on both databases: concurrent writers of one (indicator, year) keep every
parent equal to the sum of its children; concurrent overlapping flow periods — one is stored, the rest refused."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.catalog import CITY
from tests.api.helpers import API, FLOW, MEASUREMENTS, RATE, batch, count_rows, post, rate, settled
from tests.conftest import Keys

DISTRICTS = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
SCHOOLS = {d: [f"{d}9{k}" for k in range(5)] for d in DISTRICTS}


async def _schools(client: httpx.AsyncClient, keys: Keys) -> None:
    for d, schools in SCHOOLS.items():
        for s in schools:
            r = await client.post(f"{API}/units", headers=keys.auth(keys.admin),
                                  json={"code": s, "name": f"测试学校{s}", "parent": d, "level": "school"})
            assert r.status_code == 201, r.text


async def _kept(session: AsyncSession, year: int) -> dict[str, tuple[Any, ...]]:
    await settled(session)
    rows = (await session.execute(text(
        "SELECT unit_code, value, numerator, denominator, reported, own FROM yearly_values "
        "WHERE indicator_code = :i AND year = :y AND value IS NOT NULL"), {"i": RATE, "y": year})).all()
    await session.rollback()
    return {r[0]: tuple(r[1:]) for r in rows}


def _check_sums(kept: dict[str, tuple[Any, ...]], expected: dict[str, tuple[int, int]]) -> None:
    """Every school's kept row is its own value; every district and the city the exact Σ of their children."""
    for school, (n, d) in expected.items():
        assert kept[school][1:3] == (n, d) and bool(kept[school][4]) is True
    for district, schools in SCHOOLS.items():
        reporting = [expected[s] for s in schools if s in expected]
        if not reporting:
            assert district not in kept
            continue
        num, den = sum(n for n, _ in reporting), sum(d for _, d in reporting)
        assert kept[district][1:4] == (num, den, len(reporting)), district
        assert abs(kept[district][0] - num / den * 100) < 1e-9
    districts = [kept[d] for d in DISTRICTS if d in kept]
    assert kept[CITY][1:4] == (sum(r[1] for r in districts), sum(r[2] for r in districts), len(districts))
    assert kept[CITY][1] == sum(n for n, _ in expected.values())
    assert kept[CITY][2] == sum(d for _, d in expected.values())


async def test_fifty_concurrent_school_writers_keep_every_parent_exact(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    await _schools(client, keys)
    revisions_before = await count_rows(session, "measurement_revisions")
    expected = {s: (900 + i, 1000 + 10 * i) for i, s in enumerate(s for ss in SCHOOLS.values() for s in ss)}
    answers = await asyncio.gather(*[post(client, keys.admin, batch(s, "2020", rate(n=n, d=d)))
                                     for s, (n, d) in expected.items()])
    assert [r.status_code for r in answers] == [200] * 50, [r.text for r in answers if r.status_code != 200][:2]
    assert all(r.json()["counts"]["created"] == 1 for r in answers)
    _check_sums(await _kept(session, 2020), expected)
    assert await count_rows(session, "measurement_revisions") == revisions_before + 50

    # The city's figure through the API agrees: Σ numerators / Σ denominators × 100.
    city = (await client.get(MEASUREMENTS, headers=keys.auth(keys.admin), params={"unit": CITY})).json()
    assert city["items"] == []  # nothing of the city's own: its yearly value is the aggregate only


async def test_concurrent_updates_and_deletes_keep_every_parent_exact(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    await _schools(client, keys)
    schools = [s for ss in SCHOOLS.values() for s in ss]
    first = {s: (500 + i, 1000) for i, s in enumerate(schools)}
    answers = await asyncio.gather(*[post(client, keys.admin, batch(s, "2021", rate(n=n, d=d)))
                                     for s, (n, d) in first.items()])
    assert all(r.status_code == 200 for r in answers)
    revisions_before = await count_rows(session, "measurement_revisions")
    # Every third school withdraws its value, the others change theirs — all at once. Two whole districts withdraw.
    gone = set(schools[::3]) | set(SCHOOLS["370281"]) | set(SCHOOLS["370285"])
    second = {s: (700 + i, 900 + i) for i, s in enumerate(schools) if s not in gone}

    async def withdraw(s: str) -> httpx.Response:
        return await client.delete(MEASUREMENTS, headers=keys.auth(keys.admin),
                                   params={"indicator": RATE, "unit": s, "period": "2021"})

    answers = await asyncio.gather(*[withdraw(s) for s in sorted(gone)],
                                   *[post(client, keys.admin, batch(s, "2021", rate(n=n, d=d)))
                                     for s, (n, d) in second.items()])
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200][:2]
    kept = await _kept(session, 2021)
    _check_sums(kept, second)
    assert "370281" not in kept and "370285" not in kept
    assert await count_rows(session, "measurement_revisions") == revisions_before + len(gone) + len(second)


async def test_five_overlapping_flow_periods_sent_at_once_store_exactly_one(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    periods = ["1999", "1999Q1", "1999Q2", "1999Q3", "1999Q4"]
    answers = await asyncio.gather(*[
        post(client, keys.admin, batch(CITY, p, {"indicator": FLOW, "value": 14_500_000 if p != "1999" else 58e6}))
        for p in periods])
    assert all(r.status_code in (200, 422) for r in answers), [r.text for r in answers]
    stored = [p for p, r in zip(periods, answers, strict=True) if r.status_code == 200]
    refused = [r.json()["conflicts"] for r in answers if r.status_code == 422]
    # The one stored first wins; each quarter overlaps the year, so whichever wins, the four others are refused.
    if stored != ["1999"]:
        # Quarters do not overlap one another: if a quarter won, the other quarters may be stored too, but never
        # beside the year.
        assert "1999" not in stored
    assert all(c[0]["code"] == "period_overlap" for c in refused)
    assert len(stored) + len(refused) == 5
    values = (await client.get(MEASUREMENTS, headers=keys.auth(keys.admin),
                               params={"indicator": FLOW, "unit": CITY, "period_from": "1999",
                                       "period_to": "1999"})).json()["items"]
    assert sorted(v["period"] for v in values) == sorted(stored)
    await settled(session)
    row = (await session.execute(text(
        "SELECT value FROM yearly_values WHERE indicator_code = :i AND unit_code = :u AND year = 1999"),
        {"i": FLOW, "u": CITY})).one()
    await session.rollback()
    assert row[0] == (58e6 if stored == ["1999"] else 14_500_000 * len(stored))


async def test_a_year_against_its_quarter_sent_at_once_stores_one_of_them(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for _ in range(3):
        year = 1996 + _
        answers = await asyncio.gather(
            post(client, keys.admin, batch(CITY, str(year), {"indicator": FLOW, "value": 40e6})),
            post(client, keys.admin, batch(CITY, f"{year}Q2", {"indicator": FLOW, "value": 10e6})),
        )
        assert sorted(r.status_code for r in answers) == [200, 422], [r.text for r in answers]
        loser = next(r for r in answers if r.status_code == 422)
        assert loser.json()["conflicts"][0]["code"] == "period_overlap"
