"""Reads behind the roll-up (SPEC "Storage"): a read never misses an acknowledged value while writers keep writing,
the quality flags the roll-up keeps equal a from-scratch evaluation after concurrent writers, and a past `as_of`
read taken while the worker is paused equals the same read once the worker has rolled everything up."""

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import keys as key_store
from app.db.catalog import read_catalog
from app.domain import quality
from app.domain.catalog import CITY
from app.domain.keys import Role
from app.main import create_app
from app.settings import Settings
from tests.api.helpers import API, MEASUREMENTS, RATE, STOCK, post
from tests.conftest import Keys

DISTRICTS = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
SCHOOLS = {d: [f"{d}8{k}" for k in range(5)] for d in DISTRICTS}
ALL_SCHOOLS = [s for d in DISTRICTS for s in SCHOOLS[d]]
PARENT = {s: d for d in DISTRICTS for s in SCHOOLS[d]}
YEAR = 2021
SEED = 20260414


async def _add_schools(client: httpx.AsyncClient, token: str) -> None:
    for s in ALL_SCHOOLS:
        r = await client.post(f"{API}/units", headers={"Authorization": f"Bearer {token}"},
                              json={"code": s, "name": f"测试学校{s}", "parent": PARENT[s], "level": "school"})
        assert r.status_code == 201, r.text


async def _yearly(client: httpx.AsyncClient, token: str, indicator: str, **params: str) -> dict[str, dict[int, float]]:
    """A(u, y) of the city and every district through GET /indicators/{code}/yearly: unit → year → value."""
    r = await client.get(f"{API}/indicators/{indicator}/yearly", params=params,
                         headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return {u["unit_code"]: {y["year"]: y["value"] for y in u["years"]} for u in r.json()["units"]}


def _sums(by_school: dict[str, float]) -> dict[str, float]:
    """The stock's pooled sums: each district's over its schools, and the city's over every school."""
    out = {d: float(sum(by_school.get(s, 0) for s in SCHOOLS[d])) for d in DISTRICTS}
    out[CITY] = float(sum(by_school.values()))
    return out


# ---------------------------------------------------------------- read-your-writes under load

WRITERS = 20
STEPS = 8
READERS = 4


@dataclass
class Ledger:
    """What the clients know, per school: the highest value acknowledged and the highest value sent."""

    acked: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    reads: int = 0
    failures: list[str] = field(default_factory=list)


async def test_reads_under_load_lie_between_acknowledged_and_sent_sums(
    client: httpx.AsyncClient, keys: Keys, backend: str
) -> None:
    # Both databases: SQLite serialises the writers, PostgreSQL lets them and the roll-ups meet.
    await _add_schools(client, keys.admin)
    ledger = Ledger()
    done = asyncio.Event()

    async def writer(w: int) -> None:
        # Each school belongs to one writer, which sends its values one request at a time: every school's value
        # only grows in commit order, so every sum is monotone and bracketed by what was acknowledged and sent.
        rng = random.Random(SEED + w)
        mine = ALL_SCHOOLS[w::WRITERS]
        level = {s: 0 for s in mine}
        for _ in range(STEPS):
            for s in mine:
                level[s] += rng.randint(1, 3)
            rows = [{"indicator": STOCK, "unit": s, "period": str(YEAR), "value": level[s]} for s in mine]
            ledger.sent.update(level)
            r = await post(client, keys.admin, {"values": rows})
            if r.status_code != 200 or r.json()["counts"]["rejected"]:
                ledger.failures.append(f"writer {w}: {r.status_code} {r.text[:300]}")
                return
            ledger.acked.update(level)

    async def reader(k: int) -> None:
        while not done.is_set():
            low = _sums(dict(ledger.acked))
            got = await _yearly(client, keys.bureau, STOCK)
            high = _sums(dict(ledger.sent))
            ledger.reads += 1
            for unit in (CITY, *DISTRICTS):
                value = got.get(unit, {}).get(YEAR, 0.0)
                if not low[unit] <= value <= high[unit]:
                    ledger.failures.append(f"reader {k}: {unit} read {value}, acknowledged before the read "
                                           f"{low[unit]}, sent before it returned {high[unit]}")

    async def writers() -> None:
        try:
            await asyncio.gather(*[writer(w) for w in range(WRITERS)])
        finally:
            done.set()

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(writers(), *[reader(k) for k in range(READERS)]), timeout=90)
    assert not ledger.failures, ledger.failures[:5]
    assert ledger.acked == ledger.sent and len(ledger.acked) == len(ALL_SCHOOLS)
    assert ledger.reads >= READERS, "the readers read while the writers wrote"
    # Writers stopped: every read, from every reader, is the pooled sums exactly.
    pooled = _sums(ledger.acked)
    finals = await asyncio.gather(*[_yearly(client, keys.bureau, STOCK) for _ in range(READERS)])
    for got in finals:
        assert {u: got[u][YEAR] for u in (CITY, *DISTRICTS)} == pooled
    print(f"\n[read-your-writes] {WRITERS} writers × {STEPS} posts, {ledger.reads} reads in "
          f"{time.monotonic() - started:.1f} s; city {pooled[CITY]:g}")


# ---------------------------------------------------------------- quality flags after concurrent writers

PREVIOUS = {"370202": 800, "370203": 810, "370211": 790, "370212": 805, "370213": 795,
            "370214": 800, "370215": 815, "370281": 785, "370283": 800, "370285": 810}
# Numerators over 1000 (percent = n / 10), one round after another, each round's writes sent at once (one request
# per district). Round 1 trips year-on-year jumps (370203, 370212) and a peer outlier (370211); round 2 brings 370203
# back, moves the outlier further, trips 370281 and 370283, and rewrites two districts' 2019, which clears one 2020
# jump and makes another.
ROUNDS: list[list[tuple[str, int, int]]] = [
    [(d, 2020, n) for d, n in {"370202": 850, "370203": 960, "370211": 500, "370212": 640, "370213": 840,
                                "370214": 845, "370215": 855, "370281": 850, "370283": 842, "370285": 848}.items()],
    [("370203", 2020, 860), ("370281", 2020, 980), ("370211", 2020, 400), ("370212", 2019, 650),
     ("370215", 2019, 700), ("370283", 2020, 690)],
]


@dataclass
class Posted:
    district: str
    year: int
    sent: int
    acked: int | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    listed_at: int | None = None
    flags: list[dict[str, Any]] = field(default_factory=list)


async def test_flags_after_concurrent_writers_equal_a_fresh_evaluation(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    prior = await post(client, keys.admin, {"values": [
        {"indicator": RATE, "unit": d, "period": "2019", "numerator": n, "denominator": 1000}
        for d, n in PREVIOUS.items()]})
    assert prior.status_code == 200 and prior.json()["warnings"] == [], prior.text
    tick = itertools.count()
    posted: list[Posted] = []

    async def write(district: str, year: int, numerator: int) -> None:
        p = Posted(district, year, next(tick))
        posted.append(p)
        r = await post(client, keys.admin, {"values": [
            {"indicator": RATE, "unit": district, "period": str(year), "numerator": numerator, "denominator": 1000}]})
        assert r.status_code == 200 and r.json()["counts"]["rejected"] == 0, r.text
        p.acked, p.warnings = next(tick), r.json()["warnings"]
        # Right after the answer: every warning it gave is listed.
        got = await client.get(f"{API}/quality", params={"indicator": RATE}, headers=keys.auth(keys.bureau))
        assert got.status_code == 200, got.text
        p.listed_at, p.flags = next(tick), got.json()

    for writes in ROUNDS:
        await asyncio.gather(*[write(d, y, n) for d, y, n in writes])

    def touches(q: Posted, p: Posted, code: str) -> bool:
        if code == quality.OUTLIER_YOY:  # the unit's value or the year before's
            return q.district == p.district and q.year in (p.year, p.year - 1)
        return q.year == p.year  # a sibling's value (every district's parent is the city)

    strict = excused = 0
    for p in posted:
        assert p.acked is not None and p.listed_at is not None
        for w in p.warnings:
            assert w["index"] == 0 and w["code"] in (quality.OUTLIER_YOY, quality.OUTLIER_PEERS), w
            listed = {(f["unit"], f["year"], f["code"]): f["state"] for f in p.flags}
            if listed.get((p.district, p.year, w["code"])) == "open":
                strict += 1
                continue
            # Not open: only a change committed after this POST's and read by the listing may have cleared it.
            later = [q for q in posted if q is not p and touches(q, p, w["code"])
                     and (q.acked is None or q.acked > p.sent) and q.sent < p.listed_at]
            assert later, (f"{p.district} {p.year}: the POST warned {w['code']} but /quality right after lists "
                           f"{listed.get((p.district, p.year, w['code']))}, and no later change explains it")
            excused += 1
    assert strict >= 3, f"warnings listed open right after their POST: {strict} (excused {excused})"

    # Settled: the open flags equal a from-scratch evaluation of the final values with the domain's rules.
    r = await client.get(MEASUREMENTS, params={"indicator": RATE, "limit": 1000}, headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    values = {(v["unit"], int(v["period"])): v["value"] for v in r.json()["items"]}
    catalog = await read_catalog(session)
    await session.rollback()
    info = catalog.indicators[RATE]
    expected: dict[tuple[str, int, str], quality.Finding] = {}
    for (unit, year), current in values.items():
        jump = quality.yoy(rate=True, previous=values.get((unit, year - 1)), current=current,
                           max_change=info.max_yoy_change, max_points=info.max_yoy_points)
        far = quality.peers(current=current, siblings=[v for (u, y), v in values.items() if y == year and u != unit])
        for finding in (jump, far):
            if finding is not None:
                expected[(unit, year, finding.code)] = finding
    flags = (await client.get(f"{API}/quality", params={"indicator": RATE},
                              headers=keys.auth(keys.bureau))).json()
    stored = {(f["unit"], f["year"], f["code"]): f for f in flags if f["state"] == "open"}
    assert sorted(stored) == sorted(expected)
    for key, finding in expected.items():
        assert stored[key]["value"] == pytest.approx(finding.value)
        for name, figure in finding.figures.items():
            assert stored[key]["figures"][name] == pytest.approx(figure), (key, name)
    codes = {c for _, _, c in expected}
    assert codes == {quality.OUTLIER_YOY, quality.OUTLIER_PEERS}, "the rounds trip both rules"
    assert any(f["state"] == "cleared" for f in flags), "round 2 cleared flags of round 1"


# ---------------------------------------------------------------- a past as_of while the worker is paused

# (school, value) per step; None withdraws the school's value. Step 2 changes, adds and withdraws; step 3 comes
# after every instant read.
STEPS_AS_OF: list[list[tuple[str, int | None]]] = [
    [("37020280", 4), ("37020281", 6), ("37021180", 7), ("37021183", 2)],
    [("37020280", 9), ("37021282", 5), ("37021183", None), ("37021184", 8)],
    [("37020281", 1), ("37021180", 20)],
]


@asynccontextmanager
async def _app(database_url: str, *, paused: bool) -> AsyncIterator[tuple[Any, httpx.AsyncClient, str]]:
    """The app on the test's database (its worker paused or not), a client, and an admin key."""
    app = create_app(Settings(database_url=database_url, metrics_public=False, rollup_paused=paused))
    async with app.router.lifespan_context(app):
        async with app.state.sessions() as s, s.begin():
            _, token = await key_store.create_key(s, name=f"as_of admin {paused}", role=Role.ADMIN, unit_code=None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://attain.test") as c:
            yield app, c, token


async def _dirty(app: Any) -> int:
    async with app.state.sessions() as s:
        return int(await s.scalar(text("SELECT COUNT(*) FROM rollup_dirty")) or 0)


async def _apply(c: httpx.AsyncClient, token: str, year: int, step: list[tuple[str, int | None]]) -> None:
    for school, v in step:
        if v is None:
            r = await c.delete(MEASUREMENTS, headers={"Authorization": f"Bearer {token}"},
                               params={"indicator": STOCK, "unit": school, "period": str(year)})
        else:
            r = await post(c, token, {"values": [{"indicator": STOCK, "unit": school, "period": str(year),
                                                  "value": v}]})
        assert r.status_code == 200, r.text


def _after(steps: int) -> dict[str, float]:
    """The pooled sums once the first `steps` steps were applied."""
    by_school: dict[str, float] = {}
    for step in STEPS_AS_OF[:steps]:
        for school, v in step:
            if v is None:
                by_school.pop(school, None)
            else:
                by_school[school] = v
    return _sums(by_school)


async def _instant() -> str:
    """An instant strictly between the writes before it and those after it."""
    await asyncio.sleep(0.01)
    at: datetime = clock.now()
    await asyncio.sleep(0.01)
    return at.isoformat()


async def _rolled_by_worker(app: Any) -> None:
    async def drained() -> bool:
        return await _dirty(app) == 0

    deadline = time.monotonic() + 15
    while not await drained():
        assert time.monotonic() < deadline, "the worker did not roll up within 15 s"
        await asyncio.sleep(0.05)


def _at(read: dict[str, dict[int, float]], year: int) -> dict[str, float]:
    return {u: read.get(u, {}).get(year, 0.0) for u in (CITY, *DISTRICTS)}


async def test_past_as_of_while_paused_equals_the_read_after_the_worker_ran(database_url: str) -> None:
    # The worker paused: the steps are written and nothing rolls them up until a read does — several stamps at once.
    async with _app(database_url, paused=True) as (app, c, token):
        await _add_schools(c, token)
        instants = []
        for step in STEPS_AS_OF:
            await _apply(c, token, 2020, step)
            instants.append(await _instant())
        assert await _dirty(app) > 0, "the paused worker rolled nothing up"
        paused_reads = [await _yearly(c, token, STOCK, as_of=at) for at in instants]
        again = [await _yearly(c, token, STOCK, as_of=at) for at in instants]
        assert await _dirty(app) == 0
    # The worker running: the same steps for 2021, each rolled up by the worker before the next; no read between.
    async with _app(database_url, paused=False) as (app, c, token):
        worker_instants = []
        for step in STEPS_AS_OF:
            await _apply(c, token, 2021, step)
            await _rolled_by_worker(app)
            worker_instants.append(await _instant())
        worker_reads = [await _yearly(c, token, STOCK, as_of=at) for at in worker_instants]
        # And the paused app's instants, read again now that the worker has run (2020 is unchanged since).
        later = [await _yearly(c, token, STOCK, as_of=at) for at in instants]
    for k, (paused, repeat, worker, late) in enumerate(zip(paused_reads, again, worker_reads, later, strict=True)):
        assert _at(paused, 2020) == _after(k + 1), f"step {k + 1}: the paused read"
        assert _at(repeat, 2020) == _at(paused, 2020) == _at(late, 2020), f"step {k + 1}: read again"
        assert _at(worker, 2021) == _at(paused, 2020), f"step {k + 1}: rolled up by the worker"
        assert _at(worker, 2020) == _after(3), "2020 as the paused app left it"
