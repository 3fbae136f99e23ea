"""Who may submit what, and which gate answers first: 401 (key) → 413 (size) → 415/400 (body) → 403 (a foreign
unit anywhere refuses the whole request) → row checks."""

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.helpers import (
    CITY,
    FLOW,
    HUANGDAO,
    MEASUREMENTS,
    RATE,
    SHINAN,
    assert_problem,
    batch,
    codes,
    counts,
    current,
    post,
    rate,
    tally,
)
from tests.conftest import Keys

MIB = 1024 * 1024

# The unit each role calls its own, and one outside it.
OWN = {"admin": HUANGDAO, "bureau": HUANGDAO, "scraper": HUANGDAO, "huangdao": HUANGDAO, "city": CITY}
FOREIGN = {"admin": SHINAN, "bureau": SHINAN, "scraper": SHINAN, "huangdao": SHINAN, "city": SHINAN}
ALLOWED = {
    "admin": {"own": True, "foreign": True, "mixed": True},
    "bureau": {"own": False, "foreign": False, "mixed": False},
    "scraper": {"own": False, "foreign": False, "mixed": False},
    "huangdao": {"own": True, "foreign": False, "mixed": False},
    "city": {"own": True, "foreign": True, "mixed": True},
}
MATRIX = [(role, scope) for role in ALLOWED for scope in ("own", "foreign", "mixed")]


def _units(role: str, scope: str) -> list[str]:
    if scope == "own":
        return [OWN[role]]
    if scope == "foreign":
        return [FOREIGN[role]]
    return [OWN[role], FOREIGN[role]] if OWN[role] != FOREIGN[role] else [OWN[role], "370203"]


@pytest.mark.parametrize(("role", "scope"), MATRIX, ids=[f"{r}-{s}" for r, s in MATRIX])
async def test_authorization_matrix(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, role: str, scope: str
) -> None:
    units = _units(role, scope)
    body = batch(None, "2020", *[rate(unit=u) for u in units])
    before = await counts(session)
    r = await post(client, getattr(keys, role), body)
    if ALLOWED[role][scope]:
        assert r.status_code == 200, r.text
        assert r.json()["counts"] == tally(created=len(units))
        assert sorted(i["unit"] for i in await current(client, keys.bureau, indicator=RATE)) == sorted(units)
        assert (await counts(session))["measurements"] == before["measurements"] + len(units)
    else:
        doc = assert_problem(r, 403)
        assert "counts" not in doc
        assert await counts(session) == before
        assert await current(client, keys.bureau, indicator=RATE) == []


async def test_a_foreign_unit_anywhere_refuses_the_whole_request(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    body = {"period": "2020", "values": [rate(unit=HUANGDAO), rate(unit="西海岸新区", n=1), rate(unit="市南区"),
                                         rate("t99-unknown", unit=HUANGDAO)]}
    doc = assert_problem(await post(client, keys.huangdao, body), 403)
    assert "370202" in doc["detail"] and doc["foreign_units"] == [SHINAN]
    assert await counts(session) == before
    # Named at the top of the body instead of per row: the same refusal.
    assert_problem(await post(client, keys.huangdao, batch("市南区", "2020", rate())), 403)
    # The city itself is outside a district key's subtree.
    assert_problem(await post(client, keys.huangdao, batch(CITY, "2020", rate())), 403)
    assert await counts(session) == before


@pytest.mark.parametrize(("unit", "code"), [("370299", "unknown_unit"), ("不存在区", "unknown_unit"),
                                            ("370282", "retired_unit"), ("胶南市", "retired_unit")])
async def test_unknown_or_retired_unit_is_a_row_conflict_not_403(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, unit: str, code: str
) -> None:
    before = await counts(session)
    r = await post(client, keys.huangdao, {"period": "2020", "values": [rate(unit=unit), rate(unit=HUANGDAO)]})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == "partial" and codes(r.json()) == [(0, code)]
    assert (await counts(session))["measurements"] == before["measurements"] + 1


async def test_city_values_need_an_admin_or_city_key(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    flow = {"indicator": FLOW, "value": 30_000_000}
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", flow))
    assert codes(assert_problem(r, 422)) == [(0, "city_level_indicator")]
    r = await post(client, keys.city, batch(CITY, "2020", flow))
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text
    # A city key may give a rate's value alone for the city; a district row still needs n/d.
    r = await post(client, keys.city, {"period": "2019", "values": [
        {"indicator": RATE, "unit": CITY, "value": 97.5}, {"indicator": RATE, "unit": SHINAN, "value": 97.5}]})
    assert r.status_code == 200 and codes(r.json()) == [(1, "rate_needs_fraction")], r.text


# --- order of checks and limits ----------------------------------------------------------------------

def _huge_json() -> bytes:
    pad = "x" * (5 * MIB)
    return orjson.dumps(batch(HUANGDAO, "2020", rate(n=1, d=2, comment=pad)))


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("bogus", 401), ("bureau", 403), ("scraper", 403),
                                             ("huangdao", 413), ("admin", 413)])
async def test_size_is_checked_after_the_key_and_role(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, who: str | None, status: int
) -> None:
    before = await counts(session)
    token = None if who is None else "attain_deadbeef_nope" if who == "bogus" else getattr(keys, who)
    doc = assert_problem(await post(client, token, _huge_json(), content_type="application/json"), status)
    assert await counts(session) == before
    if status == 413:
        assert str(5 * MIB) in doc["detail"]


async def test_oversized_body_without_content_length_is_413(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    data = _huge_json()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 64 * 1024):
            yield data[i : i + 64 * 1024]

    before = await counts(session)
    r = await client.post(MEASUREMENTS, content=chunks(),
                          headers={**keys.auth(keys.huangdao), "Content-Type": "application/json"})
    assert_problem(r, 413)
    assert await counts(session) == before


def _rows(n: int, unit: str = HUANGDAO) -> dict[str, object]:
    # Unknown indicators keep the run cheap: every row is parsed and judged, none is written.
    return batch(unit, "2020", *[{"indicator": f"t99-{i}", "numerator": 1, "denominator": 2} for i in range(n)])


async def test_more_than_ten_thousand_values_is_413(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    assert "10000" in assert_problem(await post(client, keys.huangdao, _rows(10_001)), 413)["detail"]
    csv = "indicator,unit,period,numerator,denominator\n" + "".join(
        f"t99-{i},370211,2020,1,2\n" for i in range(10_001))
    assert_problem(await post(client, keys.huangdao, csv), 413)
    # Exactly 10,000 is within the limit: judged row by row.
    doc = assert_problem(await post(client, keys.huangdao, _rows(10_000)), 422)
    assert doc["counts"] == tally(rejected=10_000)
    assert await counts(session) == before


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (f"indicator,unit,period,value\n{RATE},370202,2020,1\n", "text/plain", 415),
    (f"indicator,unit,period,value\n{RATE},370202,2020,1\n", None, 415),
    (f"indicatr,unit,period,value\n{RATE},370202,2020,1\n", "text/csv", 400),
    ('{"unit": "370202", "values": [}', "application/json", 400),
])
async def test_body_problems_come_before_the_unit_check(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, body: str, content_type: str | None, status: int
) -> None:
    before = await counts(session)
    h = {**keys.auth(keys.huangdao)}
    if content_type:
        h["Content-Type"] = content_type
    assert_problem(await client.post(MEASUREMENTS, content=body.encode(), headers=h), status)
    assert await counts(session) == before


async def test_foreign_unit_is_refused_before_row_checks(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    assert_problem(await post(client, keys.huangdao, _rows(10, unit=SHINAN)), 403)
    assert_problem(await post(client, keys.huangdao, {"values": [{"indicator": "x", "unit": SHINAN}]},
                              dry_run=True), 403)
    assert await counts(session) == before


async def test_roles_that_cannot_write_cannot_delete(client: httpx.AsyncClient, keys: Keys) -> None:
    for token in (keys.bureau, keys.scraper):
        r = await client.delete(MEASUREMENTS, params={"indicator": RATE, "unit": HUANGDAO, "period": "2020"},
                                headers=keys.auth(token))
        assert_problem(r, 403)
    assert_problem(await client.delete(MEASUREMENTS, params={"indicator": RATE, "unit": HUANGDAO, "period": "2020"}),
                   401)
