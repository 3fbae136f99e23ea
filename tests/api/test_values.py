"""Stored values over HTTP: history of every revision, as_of reads, DELETE (a revision too), cursor paging."""

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.helpers import (
    CITY,
    HISTORY,
    HUANGDAO,
    MEASUREMENTS,
    RATE,
    SHINAN,
    STOCK,
    assert_problem,
    batch,
    counts,
    current,
    lenient_client,
    post,
    rate,
    settled,
    tally,
)
from tests.conftest import Keys

KEY = {"indicator": STOCK, "unit": HUANGDAO, "period": "2020"}


async def _history(client: httpx.AsyncClient, keys: Keys, **params: str) -> list[dict[str, Any]]:
    r = await client.get(HISTORY, params=params or KEY, headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    revs: list[dict[str, Any]] = r.json()
    return revs


async def _instant() -> str:
    """An instant strictly between two requests."""
    await asyncio.sleep(0.01)
    now = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    return now


async def test_create_update_delete_leave_three_revisions(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    assert (await post(client, keys.huangdao, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}))).status_code \
        == 200
    after_create = await _instant()
    r = await post(client, keys.admin, batch("黄岛区", "2020", {"indicator": STOCK, "value": 6, "comment": "fix"}))
    assert r.json()["counts"] == tally(updated=1)
    after_update = await _instant()
    before = await counts(session)
    r = await client.delete(MEASUREMENTS, params=KEY, headers=keys.auth(keys.huangdao))
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["value"] == 6 and r.json()["deleted"]["unit"] == HUANGDAO
    after = await counts(session)
    # Nothing is physically removed: the row stays (flagged) and one revision is added.
    assert after["measurements"] == before["measurements"]
    assert after["measurement_revisions"] == before["measurement_revisions"] + 1

    revs = await _history(client, keys, indicator=STOCK, unit="西海岸新区", period="2020")
    assert [(v["action"], v["value"], v["old_value"], v["key_name"]) for v in revs] == [
        ("create", 5, None, "test huangdao"), ("update", 6, 5, "test admin"), ("delete", None, 6, "test huangdao")]
    assert revs[1]["comment"] == "fix" and all(v["recorded_at"] for v in revs)
    assert [v["id"] for v in revs] == sorted(v["id"] for v in revs)

    assert await current(client, keys.bureau, indicator=STOCK) == []
    [old] = await current(client, keys.bureau, indicator=STOCK, as_of=after_create)
    assert (old["unit"], old["period"], old["value"]) == (HUANGDAO, "2020", 5)
    [newer] = await current(client, keys.bureau, indicator=STOCK, as_of=after_update)
    assert newer["value"] == 6 and newer["comment"] == "fix"
    assert await current(client, keys.bureau, indicator=STOCK, as_of=datetime.now(UTC).isoformat()) == []
    assert await current(client, keys.bureau, indicator=STOCK, as_of="2000-01-01") == []


async def test_as_of_reads_whole_batches_as_they_stood(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(n=900), {"indicator": STOCK, "value": 1}))
    between = await _instant()
    await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(n=950), {"indicator": STOCK, "value": 2}))
    then = await current(client, keys.bureau, as_of=between, unit=HUANGDAO)
    assert [(i["indicator"], i["value"]) for i in then] == [(RATE, pytest.approx(90.0)), (STOCK, 1)]
    now = await current(client, keys.bureau, unit="黄岛区")
    assert [(i["indicator"], i["value"]) for i in now] == [(RATE, pytest.approx(95.0)), (STOCK, 2)]


@pytest.mark.parametrize("as_of", ["yesterday", "2021-13-01", "2021-03-01T12:00:00"])
async def test_bad_as_of_is_422(client: httpx.AsyncClient, keys: Keys, as_of: str) -> None:
    r = await client.get(MEASUREMENTS, params={"as_of": as_of}, headers=keys.auth(keys.bureau))
    assert_problem(r, 422)


async def test_delete_rules(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    await post(client, keys.huangdao, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}))
    before = await counts(session)
    r = await client.delete(MEASUREMENTS, params=KEY, headers=keys.auth(keys.shinan))
    assert HUANGDAO in assert_problem(r, 403)["detail"]
    assert await counts(session) == before
    assert len(await current(client, keys.bureau, indicator=STOCK)) == 1
    for params in ({**KEY, "period": "2019"}, {**KEY, "unit": SHINAN}):
        r = await client.delete(MEASUREMENTS, params=params, headers=keys.auth(keys.admin))
        assert_problem(r, 404)
    assert_problem(await client.delete(MEASUREMENTS, params={**KEY, "indicator": "t99-x"},
                                       headers=keys.auth(keys.admin)), 404)
    assert_problem(await client.delete(MEASUREMENTS, params={**KEY, "unit": "370299"},
                                       headers=keys.auth(keys.admin)), 422)
    assert_problem(await client.delete(MEASUREMENTS, params={**KEY, "period": "2020Q5"},
                                       headers=keys.auth(keys.admin)), 422)
    assert await counts(session) == before
    # The city key may delete a district's value; the second delete finds nothing.
    assert (await client.delete(MEASUREMENTS, params=KEY, headers=keys.auth(keys.city))).status_code == 200
    assert_problem(await client.delete(MEASUREMENTS, params=KEY, headers=keys.auth(keys.city)), 404)


async def test_deleted_then_reposted_is_created(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    body = batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5})
    await post(client, keys.huangdao, body)
    assert (await client.delete(MEASUREMENTS, params=KEY, headers=keys.auth(keys.huangdao))).status_code == 200
    before = await counts(session)
    r = await post(client, keys.huangdao, body)
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text
    after = await counts(session)
    assert after["measurements"] == before["measurements"]
    assert after["measurement_revisions"] == before["measurement_revisions"] + 1
    assert [v["action"] for v in await _history(client, keys)] == ["create", "delete", "create"]
    assert [i["value"] for i in await current(client, keys.bureau, indicator=STOCK)] == [5]


async def test_delete_refreshes_the_yearly_values(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(n=900, d=1000)))
    await post(client, keys.shinan, batch(SHINAN, "2020", rate(n=80, d=100)))

    async def yearly() -> dict[str, tuple[float, int]]:
        await settled(session)
        rows = (await session.execute(text(
            "SELECT unit_code, value, reported FROM yearly_values WHERE indicator_code = :i AND year = 2020 "
            "AND value IS NOT NULL"),  # a kept row stays, without a value, once its unit has none
            {"i": RATE})).all()
        await session.rollback()
        return {r[0]: (r[1], r[2]) for r in rows}

    assert (await yearly())[CITY][1] == 2
    r = await client.delete(MEASUREMENTS, params={"indicator": RATE, "unit": SHINAN, "period": "2020"},
                            headers=keys.auth(keys.shinan))
    assert r.status_code == 200, r.text
    after = await yearly()
    assert SHINAN not in after and after[CITY] == (pytest.approx(90.0), 1)


async def test_history_of_unknown_things(client: httpx.AsyncClient, keys: Keys) -> None:
    h = keys.auth(keys.bureau)
    assert (await client.get(HISTORY, params=KEY, headers=h)).json() == []
    assert_problem(await client.get(HISTORY, params={**KEY, "indicator": "t99-x"}, headers=h), 404)
    assert_problem(await client.get(HISTORY, params={**KEY, "unit": "nowhere"}, headers=h), 422)
    doc = assert_problem(await client.get(HISTORY, params={**KEY, "unit": "370282"}, headers=h), 422)
    assert "370215" in doc["detail"]
    assert_problem(await client.get(HISTORY, params={**KEY, "period": "20x"}, headers=h), 422)
    assert_problem(await client.get(HISTORY, params=KEY, headers=keys.auth(keys.scraper)), 403)


# --- pagination ----------------------------------------------------------------------------------------

async def _twelve(client: httpx.AsyncClient, keys: Keys) -> list[tuple[str, str, str]]:
    body = {"values": [rate(unit=u, period=str(y), n=900 + y - 2010) for u in (HUANGDAO, SHINAN)
                       for y in range(2015, 2021)]}
    r = await post(client, keys.admin, body)
    assert r.status_code == 200 and r.json()["counts"] == tally(created=12), r.text
    return sorted((RATE, u, str(y)) for u in (HUANGDAO, SHINAN) for y in range(2015, 2021))


async def test_cursor_walks_every_value_exactly_once(client: httpx.AsyncClient, keys: Keys) -> None:
    expected = await _twelve(client, keys)
    seen: list[tuple[str, str, str]] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(MEASUREMENTS, params=params, headers=keys.auth(keys.bureau))).json()
        sizes.append(len(page["items"]))
        seen += [(i["indicator"], i["unit"], i["period"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [5, 5, 2] and seen == expected


async def test_cursor_pages_as_of_too(client: httpx.AsyncClient, keys: Keys) -> None:
    expected = await _twelve(client, keys)
    as_of = await _instant()
    await client.delete(MEASUREMENTS, params={"indicator": RATE, "unit": SHINAN, "period": "2015"},
                        headers=keys.auth(keys.admin))
    seen: list[tuple[str, str, str]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "5", "as_of": as_of, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(MEASUREMENTS, params=params, headers=keys.auth(keys.bureau))).json()
        seen += [(i["indicator"], i["unit"], i["period"]) for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == expected
    assert len(await current(client, keys.bureau, indicator=RATE)) == 11


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage", "!!!!", _b64(b"not json"), _b64(orjson.dumps([1, 2, 3])), _b64(orjson.dumps(["a", "b"])),
    _b64(orjson.dumps({"a": 1})), _b64(b"\xff\xfe"),
])
async def test_a_cursor_not_issued_by_the_service_is_400(
    client: httpx.AsyncClient, keys: Keys, cursor: str
) -> None:
    await _twelve(client, keys)
    r = await client.get(MEASUREMENTS, params={"limit": "5", "cursor": cursor}, headers=keys.auth(keys.bureau))
    assert_problem(r, 400)


async def test_a_forged_cursor_with_a_nul_byte_is_400_not_500(app_ctx: Any, keys: Keys) -> None:
    """PostgreSQL refuses NUL in text, so an unchecked cursor component turns into a 500 there."""
    async with lenient_client(app_ctx) as c:
        await _twelve(c, keys)
        forged = _b64(orjson.dumps([RATE, "370211\u0000", "2015"]))
        r = await c.get(MEASUREMENTS, params={"limit": "5", "cursor": forged}, headers=keys.auth(keys.bureau))
    assert_problem(r, 400)


async def test_filters(client: httpx.AsyncClient, keys: Keys) -> None:
    await _twelve(client, keys)
    h = keys.auth(keys.bureau)
    got = (await client.get(MEASUREMENTS, params={"unit": "市南区", "period_from": "2019", "period_to": "2020"},
                            headers=h)).json()["items"]
    assert [(i["unit"], i["period"]) for i in got] == [(SHINAN, "2019"), (SHINAN, "2020")]
    assert_problem(await client.get(MEASUREMENTS, params={"indicator": "t99-x"}, headers=h), 404)
    assert_problem(await client.get(MEASUREMENTS, params={"unit": "nowhere"}, headers=h), 422)
    assert_problem(await client.get(MEASUREMENTS, params={"period_from": "2020Q9"}, headers=h), 422)
    assert_problem(await client.get(MEASUREMENTS, params={"limit": "0"}, headers=h), 422)


# --- concurrent writers ----------------------------------------------------------------------------------

async def test_concurrent_writes_of_one_value_keep_a_consistent_history(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    """Ten writers race on one (indicator, unit, period): one creates it, the others update it in turn."""
    answers = await asyncio.gather(*[post(client, keys.admin, batch(HUANGDAO, "2020", rate(n=900 + i)))
                                     for i in range(10)])
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sorted(r.json()["counts"]["created"] for r in answers) == [0] * 9 + [1]
    revs = await _history(client, keys, indicator=RATE, unit=HUANGDAO, period="2020")
    assert [v["action"] for v in revs] == ["create"] + ["update"] * 9
    assert [v["old_value"] for v in revs[1:]] == [v["value"] for v in revs[:-1]]
    [now] = await current(client, keys.bureau, indicator=RATE)
    assert now["value"] == revs[-1]["value"]  # what GET says now is what the history says last


async def test_concurrent_districts_all_count_in_the_city_yearly_value(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    districts = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
    answers = await asyncio.gather(*[post(client, keys.admin, batch(u, "2020", rate(n=900 + i, d=1000)))
                                     for i, u in enumerate(districts)])
    assert all(r.status_code == 200 for r in answers)
    await settled(session)
    row = (await session.execute(text(
        "SELECT value, numerator, denominator, reported, total FROM yearly_values "
        "WHERE indicator_code = :i AND unit_code = :u AND year = 2020"), {"i": RATE, "u": CITY})).one()
    await session.rollback()
    assert (row[1], row[2], row[3], row[4]) == (9045, 10000, 10, 10)
    assert row[0] == pytest.approx(90.45)
