"""Defects found by attacking attain from outside (issue 14), each pinned by the behaviour a client sees:
control characters in query strings and paths, echoed input in problems, Idempotency-Key syntax, compressed
bodies, a client that leaves mid-body, and unit names an admin adds."""

import asyncio
import gzip
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from tests.api.helpers import API, HUANGDAO, MEASUREMENTS, STOCK, assert_problem, batch, counts, current, post
from tests.conftest import Keys
from tests.reliability.test_hostile_input import nothing_stored

MB = 1_000_000


@pytest.mark.parametrize("path", [
    f"{API}/catalog/revisions?key=%00",
    f"{API}/catalog/revisions?entity=unit&key=a%00b",
    f"{API}/measurements?unit=%00",
    f"{API}/measurements?indicator=x%1F",
    f"{API}/tasks?department=%7F",
    f"{API}/attainment?as_of=2021-01-01%00",
    f"{API}/indicators/t14-practice-base%00",
    f"{API}/units/370211%0A",
])
async def test_control_characters_in_queries_and_paths_are_400(
    client: httpx.AsyncClient, keys: Keys, path: str
) -> None:
    r = await client.get(path, headers=keys.auth(keys.bureau))
    assert assert_problem(r, 400)["code"] == "control_characters"


async def test_echoed_input_is_cut_to_200_characters(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    # Five rows naming a 1 MB indicator: a 5 MB request once got a 10 MB 422.
    names = [str(i) * MB for i in range(5)]
    async with nothing_stored(session):
        r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", *({"indicator": n, "value": 1} for n in names)))
    doc = assert_problem(r, 422)
    assert len(r.content) < 10_000, len(r.content)
    for name, conflict in zip(names, doc["conflicts"], strict=True):
        assert conflict["code"] == "unknown_indicator"
        assert conflict["indicator"] == name[:200] + "…"
        assert name[:200] + "…" in conflict["detail"] and name[:201] not in conflict["detail"]
    # An unknown field with a 1 MB name, in a submission and in an admin body.
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 1, "k" * MB: 1}))
    assert len(assert_problem(r, 422)["conflicts"][0]["detail"]) < 400 and len(r.content) < 5_000
    r = await client.post(f"{API}/keys", json={"role": "bureau", "name": "x", "q" * MB: 1},
                          headers=keys.auth(keys.admin))
    assert assert_problem(r, 422) and len(r.content) < 5_000


@pytest.mark.parametrize("value", [b"", b"   ", b"a b", b"caf\xc3\xa9", b"tab\there", b"x" * 256])
async def test_idempotency_keys_must_be_1_to_255_visible_ascii(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, value: bytes
) -> None:
    body = orjson.dumps(batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}))
    async with nothing_stored(session):
        r = await client.post(MEASUREMENTS, content=body, headers=[
            (b"authorization", f"Bearer {keys.huangdao}".encode()), (b"content-type", b"application/json"),
            (b"idempotency-key", value)])
    assert assert_problem(r, 400)["code"] == "bad_idempotency_key"


async def test_the_longest_visible_idempotency_key_is_taken(client: httpx.AsyncClient, keys: Keys) -> None:
    key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3  # 282 characters: every visible one, cut to 255
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}),
                   headers={"Idempotency-Key": key[:255]})
    assert r.status_code == 200, r.text
    again = await post(client, keys.huangdao, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}),
                       headers={"Idempotency-Key": key[:255]})
    assert again.headers.get("idempotent-replayed") == "true"


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip"])
async def test_compressed_bodies_are_415(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, encoding: str
) -> None:
    body = gzip.compress(orjson.dumps(batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5})))
    async with nothing_stored(session):
        r = await post(client, keys.huangdao, body, content_type="application/json",
                       headers={"Content-Encoding": encoding})
    assert assert_problem(r, 415)["code"] == "unsupported_content_encoding"
    plain = await post(client, keys.huangdao, batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}),
                       headers={"Content-Encoding": "identity"})
    assert plain.status_code == 200, plain.text


def _requests_by_status() -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics.exposition([]).decode()):
        for s in family.samples:
            if s.name == "attain_http_requests_total" and s.labels["route"] == MEASUREMENTS:
                out[s.labels["status"]] = out.get(s.labels["status"], 0) + s.value
    return out


async def test_a_client_leaving_mid_body_is_a_disconnect_not_a_500(
    app_ctx: Any, keys: Keys, session: AsyncSession, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ASGI conversation uvicorn holds with the app when the peer closes after 10 of 100 bytes."""
    before = _requests_by_status()
    messages = [{"type": "http.request", "body": b'{"values": ', "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": MEASUREMENTS, "raw_path": MEASUREMENTS.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"attain.test"), (b"authorization", f"Bearer {keys.huangdao}".encode()),
                         (b"content-type", b"application/json"), (b"content-length", b"100")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    async with nothing_stored(session):
        await app_ctx(scope, receive, send)  # type: ignore[operator]
    after = _requests_by_status()
    assert after.get("500", 0) == before.get("500", 0), after
    assert after.get("499", 0) == before.get("499", 0) + 1, after
    logged = capsys.readouterr()
    assert "unhandled_error" not in logged.out + logged.err
    assert "client_disconnected" in logged.out + logged.err


async def _add_unit(client: httpx.AsyncClient, keys: Keys, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/units", json={"code": "370211901", "name": "测试一中", "parent": HUANGDAO,
                                                   **body}, headers=keys.auth(keys.admin))


@pytest.mark.parametrize(("body", "status"), [
    ({"name": "370202"}, 409),                        # another unit's code
    ({"name": "３７０２０２"}, 409),                   # the same, in full-width digits (NFKC)
    ({"name": "市南区"}, 409),                         # another unit's name
    ({"aliases": ["西海岸新区"]}, 409),                 # another unit's alias
    ({"aliases": [" 西海岸新区 "]}, 409),               # padded
    ({"name": "黄岛\u200b区"}, 422),                   # zero-width space
    ({"name": "测试\u202e中一"}, 422),                 # right-to-left override
    ({"name": "测试\u2066一中\u2069"}, 422),           # bidi isolate
    ({"name": "测试\u00ad一中"}, 422),                 # soft hyphen (format)
    ({"aliases": ["一中", "一 中"]}, 422),              # repeats itself
    ({"name": "370211901"}, 422),                     # its own code
    ({"level": "district"}, 422),                     # a district under a district
    ({"code": "370211902", "parent": "370211901"}, 0),  # a school under a school: checked below
])
async def test_unit_names_cannot_be_confused(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], status: int
) -> None:
    if status == 0:
        assert (await _add_unit(client, keys)).status_code == 201
        assert_problem(await _add_unit(client, keys, **body), 422)
        return
    assert_problem(await _add_unit(client, keys, **body), status)
    assert (await client.get(f"{API}/units/370211901", headers=keys.auth(keys.admin))).status_code == 404


async def test_unit_names_are_stored_normalised(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await _add_unit(client, keys, name="  测试ＡＢＣ中学 ", aliases=["  ＡＢＣ "])
    assert r.status_code == 201, r.text
    # Stored NFC as typed (NFKC would also turn （） into ASCII); found by its NFKC, case-folded form.
    assert (r.json()["name"], r.json()["aliases"]) == ("测试ＡＢＣ中学", ["ＡＢＣ"])
    values = await post(client, keys.huangdao, batch("ABC", "2020", {"indicator": STOCK, "value": 3}))
    assert values.status_code == 200, values.text
    assert [v["unit"] for v in await current(client, keys.huangdao, indicator=STOCK)] == ["370211901"]


async def test_a_zero_width_unit_alias_changes_nothing(client: httpx.AsyncClient, keys: Keys,
                                                      session: AsyncSession) -> None:
    before = await counts(session)
    assert_problem(await _add_unit(client, keys, aliases=["\u200d"]), 422)
    assert await counts(session) == before


async def test_concurrent_units_of_one_name_give_it_once(client: httpx.AsyncClient, keys: Keys) -> None:
    answers = await asyncio.gather(*(client.post(f"{API}/units", json={
        "code": f"37021195{i}", "name": "同名学校", "parent": HUANGDAO}, headers=keys.auth(keys.admin))
        for i in range(5)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409], [r.text for r in answers]
    units = (await client.get(f"{API}/units", headers=keys.auth(keys.admin))).json()
    assert [u["name"] for u in units].count("同名学校") == 1
