"""The review lock holds against a write in flight (SPEC "Review and locking"): a write held between its checks and
its commit while its dataset is submitted and approved is either stored before the approval (the approval waits for
it) or refused `locked` — never stored after the approval. A test-only hook holds the write on purpose."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from app.services import submissions
from tests.api.attainment_helpers import API, HUANGDAO, NETWORK, rate
from tests.conftest import Keys


@pytest.fixture
async def held() -> AsyncIterator[tuple[asyncio.Event, asyncio.Event]]:
    """(reached, release): the next write sets `reached` once checked, then waits for `release`."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        submissions.before_commit = None  # only the first write is held
        reached.set()
        await release.wait()

    submissions.before_commit = hold
    yield reached, release
    submissions.before_commit = None


async def _post(client: httpx.AsyncClient, token: str, path: str, body: object) -> httpx.Response:
    return await client.post(f"{API}{path}", json=body, headers={"Authorization": f"Bearer {token}"})


async def test_an_approval_never_lets_a_write_in_flight_land_after_it(
    client: httpx.AsyncClient, keys: Keys, held: tuple[asyncio.Event, asyncio.Event], backend: str
) -> None:
    reached, release = held
    year = 2016
    body = {"values": [rate(NETWORK, HUANGDAO, str(year), 951, 1000)]}
    write = asyncio.create_task(_post(client, keys.huangdao, "/measurements", body))
    await asyncio.wait_for(reached.wait(), 10)
    # The dataset is submitted and approved while the write is checked but not committed.
    submit = asyncio.create_task(_post(client, keys.huangdao, "/reviews", {"unit": HUANGDAO, "year": year}))
    await asyncio.sleep(0.3)
    if backend == "postgres":
        # A submission does not wait for writes (values may change while submitted).
        submitted = await asyncio.wait_for(submit, 10)
        assert submitted.status_code == 201, submitted.text
        approve = asyncio.create_task(_post(client, keys.reviewer, f"/reviews/{submitted.json()['id']}/approve", {}))
        await asyncio.sleep(0.5)
        assert not approve.done(), "the approval must wait for the write holding its dataset"
    release.set()
    stored = await asyncio.wait_for(write, 20)
    if backend == "sqlite":
        submitted = await asyncio.wait_for(submit, 20)
        approve = asyncio.create_task(_post(client, keys.reviewer, f"/reviews/{submitted.json()['id']}/approve", {}))
    approved = await asyncio.wait_for(approve, 20)
    assert approved.status_code == 200, approved.text
    assert stored.status_code == 200 and stored.json()["counts"]["created"] == 1, stored.text

    history = (await client.get(f"{API}/measurements/history", headers=keys.auth(keys.bureau),
                                params={"indicator": NETWORK, "unit": HUANGDAO, "period": str(year)})).json()
    review = (await client.get(f"{API}/reviews/{submitted.json()['id']}", headers=keys.auth(keys.bureau))).json()
    approved_at = max(datetime.fromisoformat(e["recorded_at"]) for e in review["history"] if e["action"] == "approve")
    assert history and all(datetime.fromisoformat(r["recorded_at"]) < approved_at for r in history), (
        history, approved_at)
    # And a write after the approval is refused.
    again = await _post(client, keys.huangdao, "/measurements",
                        {"values": [rate(NETWORK, HUANGDAO, str(year), 952, 1000)]})
    assert again.status_code == 422 and again.json()["conflicts"][0]["code"] == "locked"
