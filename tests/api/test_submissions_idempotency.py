"""Idempotency-Key on POST /measurements: one effect per (API key, Idempotency-Key), the first answer replayed,
another body refused, a key in flight answered 409 — also under concurrent retries."""

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import submissions
from tests.api.helpers import (
    HUANGDAO,
    RATE,
    SHINAN,
    STOCK,
    assert_problem,
    batch,
    count_rows,
    counts,
    lenient_client,
    post,
    rate,
    tally,
)
from tests.conftest import Keys

BODY = batch(HUANGDAO, "2020", rate(), rate("t27-rural-school-pairing", n=40, d=50), {"indicator": STOCK, "value": 7})


def idem(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_same_key_and_body_replays_the_first_answer(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    first = await post(client, keys.huangdao, BODY, headers=idem("k-1"))
    assert first.status_code == 200 and first.json()["counts"] == tally(created=3), first.text
    assert "idempotent-replayed" not in first.headers
    after_first = await counts(session)
    assert after_first["measurement_revisions"] == before["measurement_revisions"] + 3
    second = await post(client, keys.huangdao, BODY, headers=idem("k-1"))
    assert second.status_code == 200 and second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content and second.headers["content-type"].startswith("application/json")
    assert await counts(session) == after_first
    # Without the key the same body runs again and is merely unchanged — a different answer.
    third = await post(client, keys.huangdao, BODY)
    assert third.json()["counts"] == tally(unchanged=3)
    # The replay is the first answer even after the data moved on.
    changed = batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 8})
    assert (await post(client, keys.huangdao, changed)).json()["counts"] == tally(updated=1)
    assert (await post(client, keys.huangdao, BODY, headers=idem("k-1"))).content == first.content


async def test_same_key_with_another_request_is_422(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    assert (await post(client, keys.huangdao, BODY, headers=idem("k-2"))).status_code == 200
    before = await counts(session)
    other = batch(HUANGDAO, "2019", rate())
    doc = assert_problem(await post(client, keys.huangdao, other, headers=idem("k-2")), 422)
    assert "Idempotency-Key" in doc["detail"] and "counts" not in doc
    # The query is part of the request: the same body as a dry run is another request.
    assert_problem(await post(client, keys.huangdao, BODY, headers=idem("k-2"), dry_run=True), 422)
    assert await counts(session) == before


async def test_concurrent_retries_have_exactly_one_effect(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    answers = await asyncio.gather(*[post(client, keys.huangdao, BODY, headers=idem("burst")) for _ in range(20)])
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {200, 409}, statuses
    ok = [r for r in answers if r.status_code == 200]
    assert ok and all(r.json()["counts"] == tally(created=3) for r in ok)
    assert len({r.content for r in ok}) == 1
    assert sum(1 for r in ok if "idempotent-replayed" not in r.headers) == 1
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409)
    after = await counts(session)
    assert after["measurements"] == before["measurements"] + 3
    assert after["measurement_revisions"] == before["measurement_revisions"] + 3
    late = await post(client, keys.huangdao, BODY, headers=idem("burst"))
    assert late.status_code == 200 and late.headers["idempotent-replayed"] == "true"
    assert late.json()["counts"] == tally(created=3)


async def test_client_errors_are_replayed_too(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    before = await counts(session)
    bad = batch(HUANGDAO, "2020Q5", rate())
    first = await post(client, keys.huangdao, bad, headers=idem("k-422"))
    assert_problem(first, 422)
    second = await post(client, keys.huangdao, bad, headers=idem("k-422"))
    assert_problem(second, 422)
    assert second.headers["idempotent-replayed"] == "true" and second.content == first.content
    # A 403 (foreign unit) and a 400 (unreadable body) are answers as well.
    foreign = batch(SHINAN, "2020", rate())
    f1 = await post(client, keys.huangdao, foreign, headers=idem("k-403"))
    f2 = await post(client, keys.huangdao, foreign, headers=idem("k-403"))
    assert assert_problem(f1, 403) == assert_problem(f2, 403)
    assert f2.headers["idempotent-replayed"] == "true" and f2.content == f1.content
    garbled = '{"values": ['
    g1 = await post(client, keys.huangdao, garbled, content_type="application/json", headers=idem("k-400"))
    g2 = await post(client, keys.huangdao, garbled, content_type="application/json", headers=idem("k-400"))
    assert assert_problem(g1, 400) == assert_problem(g2, 400)
    assert g2.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in g1.headers
    assert await counts(session) == before


async def test_keys_are_scoped_per_api_key(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    body = batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 7})
    before = await count_rows(session, "measurement_revisions")
    r1 = await post(client, keys.huangdao, body, headers=idem("shared"))
    assert r1.json()["counts"] == tally(created=1)
    moved = await post(client, keys.admin, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 9}))
    assert moved.status_code == 200
    # The city key sends the same body under the same Idempotency-Key: not a replay of the district's answer.
    r2 = await post(client, keys.city, body, headers=idem("shared"))
    assert r2.status_code == 200 and "idempotent-replayed" not in r2.headers
    assert r2.json()["counts"] == tally(updated=1)
    assert await count_rows(session, "measurement_revisions") == before + 3


async def _key_id(session: AsyncSession, name: str) -> int:
    try:
        return int((await session.execute(text("SELECT id FROM api_keys WHERE name = :n"), {"n": name})).scalar_one())
    finally:
        await session.rollback()


async def test_a_key_in_flight_is_409_at_once_and_a_crashed_one_never_blocks(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, backend: str
) -> None:
    """The key is held by its request's transaction: a second request under it answers 409 at once on PostgreSQL
    (SQLite's one writer makes it wait, then replay); a request that died left nothing behind to wait for."""
    body = orjson.dumps(batch(HUANGDAO, "2020", rate()))
    reached, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        submissions.before_commit = None
        reached.set()
        await release.wait()

    submissions.before_commit = hold
    try:
        first = asyncio.create_task(post(client, keys.huangdao, body, content_type="application/json",
                                         headers=idem("held")))
        await asyncio.wait_for(reached.wait(), 10)
        second = asyncio.create_task(post(client, keys.huangdao, body, content_type="application/json",
                                          headers=idem("held")))
        if backend == "postgres":
            assert_problem(await asyncio.wait_for(second, 5), 409)
        release.set()
        answered = await asyncio.wait_for(first, 10)
        assert answered.status_code == 200 and answered.json()["counts"] == tally(created=1), answered.text
        if backend == "sqlite":
            again = await asyncio.wait_for(second, 10)
            assert again.headers["idempotent-replayed"] == "true" and again.content == answered.content
    finally:
        submissions.before_commit = None
        release.set()
    # A request that died mid-way (its transaction rolled back) holds nothing: the same key runs at once.
    async def crash() -> None:
        submissions.before_commit = None
        raise RuntimeError("the process died here")

    submissions.before_commit = crash
    try:
        with pytest.raises(RuntimeError):
            await post(client, keys.huangdao, orjson.dumps(batch(HUANGDAO, "2021", rate())),
                       content_type="application/json", headers=idem("crashed"))
    finally:
        submissions.before_commit = None
    before = await counts(session)
    taken = await post(client, keys.huangdao, orjson.dumps(batch(HUANGDAO, "2021", rate())),
                       content_type="application/json", headers=idem("crashed"))
    assert taken.status_code == 200 and taken.json()["counts"] == tally(created=1), taken.text
    assert (await counts(session))["measurement_revisions"] == before["measurement_revisions"] + 1


async def test_overlong_idempotency_key_is_a_problem(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate()), headers=idem("k" * 256))
    assert assert_problem(r, 400)["code"] == "bad_idempotency_key"  # 1–255 visible ASCII characters
    assert RATE not in r.text


_TRIGGER = {
    "sqlite": ["CREATE TRIGGER boom BEFORE INSERT ON measurement_revisions WHEN NEW.comment = 'boom' "
               "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
    "postgres": ["CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.comment = 'boom' THEN "
                 "RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$",
                 "CREATE TRIGGER boom BEFORE INSERT ON measurement_revisions FOR EACH ROW EXECUTE FUNCTION boom()"],
}
_UNTRIGGER = {"sqlite": ["DROP TRIGGER boom"], "postgres": ["DROP TRIGGER boom ON measurement_revisions"]}


async def _ddl(session: AsyncSession, statements: list[str]) -> None:
    async with session.begin():
        for sql in statements:
            await session.execute(text(sql))


async def test_after_a_failed_write_a_retry_with_the_key_runs_at_once(
    app_ctx: Any, keys: Keys, session: AsyncSession, backend: str
) -> None:
    """A database failure mid-write (injected by a trigger) is a 5xx; the key is given back, not left in flight."""
    await _ddl(session, _TRIGGER[backend])
    body = batch(HUANGDAO, "2020", rate(comment="boom"))
    before = await counts(session)
    async with lenient_client(app_ctx) as c:
        failed = await post(c, keys.huangdao, body, headers=idem("retry-me"))
        assert failed.status_code >= 500
        assert await counts(session) == before
        await _ddl(session, _UNTRIGGER[backend])
        retried = await post(c, keys.huangdao, body, headers=idem("retry-me"))
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers and retried.json()["counts"] == tally(created=1)
