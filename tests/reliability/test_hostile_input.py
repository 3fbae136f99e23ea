"""Hostile input to POST /measurements (and the query strings and admin bodies around it): oversized bodies, too
many values, deep nesting, huge numbers, NaN/Infinity, control characters and NUL bytes, SQL-looking strings,
wrong content types, empty and non-UTF-8 bodies, floods of query parameters and over-long Idempotency-Keys.

Every one gets a 4xx problem document (never a 5xx), stores nothing it should not (the row counts of the
measurement tables are unchanged, and the tables are still there), and the 6 MiB bodies are refused before they
are read whole, with memory that stays flat over twenty of them.
"""

import gc
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import psutil
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.helpers import (
    API,
    HISTORY,
    HUANGDAO,
    MEASUREMENTS,
    RATE,
    STOCK,
    assert_problem,
    batch,
    count_rows,
    counts,
    current,
    lenient_client,
    post,
)
from tests.conftest import Keys

MIB = 1024 * 1024
LIMIT = 5 * MIB  # Settings.max_body_bytes, the SPEC's 5 MiB
CHUNK = 64 * 1024
SQLI = "'; DROP TABLE measurements; --"
CSV_HEADER = "indicator,unit,period,value,numerator,denominator,comment\r\n"


@asynccontextmanager
async def nothing_stored(session: AsyncSession) -> AsyncIterator[None]:
    """Row counts of every table a submission writes are the same afterwards (and the tables still exist)."""
    before = {**await counts(session), "idempotency_records": await count_rows(session, "idempotency_records")}
    yield
    after = {**await counts(session), "idempotency_records": await count_rows(session, "idempotency_records")}
    assert after == before


def _problem(r: httpx.Response, *statuses: int) -> str | None:
    """Why `r` is not an RFC 9457 problem with one of `statuses` (any 4xx when none are given), or None."""
    ok = r.status_code in statuses if statuses else 400 <= r.status_code < 500
    if not ok:
        return f"{r.status_code} {r.text[:300]}"
    if not r.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{r.status_code} with content-type {r.headers.get('content-type')}"
    doc = r.json()
    if doc.get("status") != r.status_code or not doc.get("title") or not doc.get("detail"):
        return f"{r.status_code}: not a problem document: {r.text[:300]}"
    return None


def _stock_row(**fields: Any) -> dict[str, Any]:
    """A row of a stock indicator that is valid unless `fields` spoil it."""
    return {"indicator": STOCK, "unit": HUANGDAO, "period": "2020", "value": 5, **fields}


def _six_mib_json() -> bytes:
    body = orjson.dumps(batch(HUANGDAO, "2020", _stock_row(comment="x" * (6 * MIB))))
    assert len(body) > 6 * MIB
    return body


class _Counted:
    """An async request body in 64 KiB chunks that records how much of it the server pulled."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), CHUNK):
            chunk = self.data[i : i + CHUNK]
            self.pulled += len(chunk)
            yield chunk


# --- size ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
async def test_six_mib_with_content_length_is_413_before_the_body_is_read(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, content_type: str
) -> None:
    data = _six_mib_json()
    body = _Counted(data)
    headers = {**keys.auth(keys.huangdao), "Content-Type": content_type, "Content-Length": str(len(data))}
    async with nothing_stored(session):
        r = await client.post(MEASUREMENTS, content=body, headers=headers)  # type: ignore[arg-type]
        assert "transfer-encoding" not in r.request.headers
        doc = assert_problem(r, 413)
    assert str(len(data)) in doc["detail"] and str(LIMIT) in doc["detail"]
    # The declared length alone decided it: at most one chunk was ever pulled off the wire.
    assert body.pulled <= CHUNK, body.pulled


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
async def test_six_mib_chunked_without_content_length_is_413_once_past_the_limit(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, content_type: str
) -> None:
    body = _Counted(_six_mib_json())
    async with nothing_stored(session):
        r = await client.post(MEASUREMENTS, content=body,  # type: ignore[arg-type]
                              headers={**keys.auth(keys.huangdao), "Content-Type": content_type})
        assert r.request.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.request.headers
        assert_problem(r, 413)
    # Reading stopped at the first chunk past 5 MiB, well before the 6 MiB end.
    assert body.pulled <= LIMIT + CHUNK, body.pulled


async def test_memory_stays_flat_over_twenty_six_mib_bodies(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    data = _six_mib_json()
    headers = {**keys.auth(keys.huangdao), "Content-Type": "application/json"}

    async def twenty() -> None:
        for _ in range(10):
            assert (await client.post(MEASUREMENTS, content=data, headers=headers)).status_code == 413
            assert (await client.post(MEASUREMENTS, content=_Counted(data),  # type: ignore[arg-type]
                                      headers=headers)).status_code == 413

    async with nothing_stored(session):
        await twenty()  # warm-up: imports, pools, caches
        gc.collect()
        rss = psutil.Process().memory_info().rss
        await twenty()
        gc.collect()
        rss_growth = psutil.Process().memory_info().rss - rss

        tracemalloc.start()
        try:
            await twenty()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    print(f"6 MiB x20: RSS growth {rss_growth / MIB:.1f} MiB, peak traced allocation {peak / MIB:.1f} MiB")
    assert rss_growth < 50 * MIB, f"RSS grew by {rss_growth / MIB:.1f} MiB over 20 bodies of 6 MiB"
    # One refused body is held at a time (at most ~5 MiB plus a chunk); nothing accumulates across requests.
    assert peak < 50 * MIB, f"peak Python allocation {peak / MIB:.1f} MiB over 20 bodies of 6 MiB"


async def test_ten_thousand_and_one_values_are_413(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    rows = [_stock_row(period=str(2000 + i % 20), unit=HUANGDAO, indicator=f"t99-{i}") for i in range(10_001)]
    csv = CSV_HEADER + "".join(f"t99-{i},{HUANGDAO},2020,5,,,\r\n" for i in range(10_001))
    async with nothing_stored(session):
        assert "10000" in assert_problem(await post(client, keys.huangdao, {"values": rows}), 413)["detail"]
        assert_problem(await post(client, keys.huangdao, csv), 413)


# --- structure ---------------------------------------------------------------------------------------------------

DEPTH = 100_000


def _nested(kind: str) -> bytes:
    if kind == "array at the root":
        return b"[" * DEPTH + b"]" * DEPTH
    if kind == "arrays as values":
        return b'{"values": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"
    if kind == "objects in a comment":
        row = orjson.dumps(_stock_row())[:-1] + b', "comment": '
        return b'{"values": [' + row + b'{"a": ' * DEPTH + b"1" + b"}" * DEPTH + b"}]}"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["array at the root", "arrays as values", "objects in a comment"])
async def test_json_nested_a_hundred_thousand_deep_is_400(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, kind: str
) -> None:
    async with nothing_stored(session):
        assert_problem(await post(client, keys.huangdao, _nested(kind), content_type="application/json"), 400)
    assert (await client.get("/healthz")).status_code == 200


async def test_deep_json_to_admin_routes_is_4xx(app_ctx: Any, keys: Keys, session: AsyncSession) -> None:
    routes = [("POST", f"{API}/indicators"), ("PATCH", f"{API}/indicators/{STOCK}"),
              ("POST", f"{API}/indicators/{STOCK}/targets"), ("POST", f"{API}/units"), ("POST", f"{API}/keys")]
    headers = {**keys.auth(keys.admin), "Content-Type": "application/json"}
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:  # a 500 is answered, not raised
        for method, path in routes:
            r = await client.request(method, path, content=_nested("array at the root"), headers=headers)
            if (why := _problem(r)) is not None:
                problems.append(f"{method} {path}: {why}")
        assert (await client.get(f"{API}/indicators/{STOCK}", headers=keys.auth(keys.admin))).status_code == 200
    assert not problems, "\n".join(problems)


# --- numbers -----------------------------------------------------------------------------------------------------

HUGE = ["1e999", "-1e999", "123456789012345678901234567890", "NaN", "Infinity", "-Infinity"]


def _not_rejected_number(r: httpx.Response) -> str | None:
    """Unparseable JSON (400), or the row refused as bad_number (422) — else why not."""
    if r.status_code == 400:
        return _problem(r, 400)
    if (why := _problem(r, 422)) is not None:
        return why
    found = [c["code"] for c in r.json()["conflicts"]]
    return None if found == ["bad_number"] else f"422 with conflicts {found}"


@pytest.mark.parametrize("field", ["value", "numerator", "denominator"])
@pytest.mark.parametrize("quoted", [False, True], ids=["literal", "string"])
async def test_huge_and_non_finite_numbers_in_json_are_refused(
    app_ctx: Any, keys: Keys, session: AsyncSession, field: str, quoted: bool
) -> None:
    row = {"indicator": RATE, "numerator": 971, "denominator": 1000} if field != "value" else _stock_row()
    row[field] = "@@"
    text = orjson.dumps(batch(HUANGDAO, "2020", row)).decode()
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:
        for token in HUGE:
            body = text.replace('"@@"', f'"{token}"' if quoted else token)
            r = await post(client, keys.huangdao, body, content_type="application/json")
            if (why := _not_rejected_number(r)) is not None:
                problems.append(f"{field}={body[-60:]}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("field", ["value", "numerator", "denominator"])
async def test_huge_and_non_finite_numbers_in_csv_are_bad_number(
    app_ctx: Any, keys: Keys, session: AsyncSession, field: str
) -> None:
    indicator = STOCK if field == "value" else RATE
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:
        for token in HUGE:
            cells = {"value": ",{},,", "numerator": ",,{},1000", "denominator": ",,971,{}"}[field].format(token)
            r = await post(client, keys.huangdao, CSV_HEADER + f"{indicator},{HUANGDAO},2020{cells},\r\n")
            if (why := _not_rejected_number(r)) is not None:
                problems.append(f"{field}={token}: {why}")
    assert not problems, "\n".join(problems)


async def test_a_bad_number_beside_a_good_row_stores_only_the_good_row(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    csv = CSV_HEADER + "".join(f"{STOCK},{HUANGDAO},{year},{value},,,\r\n"
                               for year, value in ((2019, "NaN"), (2020, "7"), (2021, "1e999")))
    before = await counts(session)
    r = await post(client, keys.huangdao, csv)
    assert r.status_code == 200, r.text
    assert [(c["index"], c["code"]) for c in r.json()["conflicts"]] == [(0, "bad_number"), (2, "bad_number")]
    assert [(v["period"], v["value"]) for v in await current(client, keys.huangdao, indicator=STOCK)] == [("2020", 7)]
    assert (await counts(session))["measurements"] == before["measurements"] + 1


# targets.id and api_keys.id are INTEGER (32-bit on PostgreSQL); SQLite integers are 64-bit.
BIG_IDS = [2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30]
ID_ROUTES = [("DELETE", f"{API}/targets/{{}}"), ("PATCH", f"{API}/targets/{{}}"), ("DELETE", f"{API}/keys/{{}}"),
             ("GET", f"{API}/tasks/{{}}")]


@pytest.mark.parametrize(("method", "template"), ID_ROUTES, ids=[f"{m} {t}" for m, t in ID_ROUTES])
async def test_ids_beyond_the_column_range_are_4xx(
    app_ctx: Any, keys: Keys, session: AsyncSession, method: str, template: str
) -> None:
    kwargs: dict[str, Any] = {"json": {"note": "x"}} if method == "PATCH" else {}
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:  # a 500 is answered, not raised
        for number in BIG_IDS:
            r = await client.request(method, template.format(number), headers=keys.auth(keys.admin), **kwargs)
            if (why := _problem(r)) is not None:
                problems.append(f"{method} {template.format(number)}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("path", "params"), [
    (MEASUREMENTS, {"limit": str(10**30)}), (f"{API}/tasks", {"action": str(2**63)}),
    (f"{API}/indicators", {"task": "-" + str(10**30)}), (f"{API}/attainment", {"task": "1e999"}),
    (f"{API}/attainment", {"action": "NaN"}),
])
async def test_huge_numbers_in_query_parameters_are_422(
    client: httpx.AsyncClient, keys: Keys, path: str, params: dict[str, str]
) -> None:
    assert_problem(await client.get(path, params=params, headers=keys.auth(keys.bureau)), 422)


# --- control characters, NUL bytes -------------------------------------------------------------------------------

CONTROL = ["nul \x00 inside", "\x00", "bell \x07 escape \x1b del \x7f", "line\r\nbreak\u2028sep", "\ufeffbom",
           "tab\tend"]


@pytest.mark.parametrize("comment", CONTROL, ids=repr)
async def test_control_characters_in_a_comment_are_stored_verbatim_or_refused(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, comment: str
) -> None:
    before = await counts(session)
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", _stock_row(comment=comment)))
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        assert r.json()["counts"]["created"] == 1, r.text
        [stored] = await current(client, keys.huangdao, indicator=STOCK)
        # Surrounding whitespace is trimmed like every text field; what is inside is kept exactly.
        assert stored["comment"] == (comment.strip() or None)
    else:
        assert_problem(r, r.status_code)
        assert await counts(session) == before


async def test_control_characters_in_a_unit_name_are_a_row_conflict(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    problems = []
    async with nothing_stored(session):
        for unit in ("370211\x00", "\x00", "黄岛区\x00", "370\x01211", "\x1b[31m370211"):
            r = await post(client, keys.huangdao, {"values": [_stock_row(unit=unit)]})
            if (why := _problem(r, 422)) is not None:
                problems.append(f"{unit!r}: {why}")
            elif (found := [c["code"] for c in r.json()["conflicts"]]) not in (["unknown_unit"], ["invalid_row"]):
                problems.append(f"{unit!r}: conflicts {found}")
    assert not problems, "\n".join(problems)


async def test_raw_nul_bytes_in_csv_are_refused_or_kept_verbatim(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    csv = (CSV_HEADER + f"{STOCK},{HUANGDAO}\x00,2020,5,,,ok\r\n{STOCK},{HUANGDAO},2020,5,,,a\x00b\r\n").encode()
    before = await counts(session)
    r = await post(client, keys.huangdao, csv)
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        assert [c["code"] for c in r.json()["conflicts"]] in (["unknown_unit"], ["invalid_row"]), r.text
        [stored] = await current(client, keys.huangdao, indicator=STOCK)
        assert stored["comment"] == "a\x00b"
    else:
        assert_problem(r, r.status_code)
        assert await counts(session) == before


ADMIN_TEXT: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", f"{API}/units", {"code": "370211990", "name": "测试{}学校", "parent": HUANGDAO}),
    ("POST", f"{API}/units", {"code": "370211991", "name": "测试三中", "name_en": "No.3{}", "parent": HUANGDAO}),
    ("POST", f"{API}/units", {"code": "370211992", "name": "测试四中", "aliases": ["四中{}"], "parent": HUANGDAO}),
    ("POST", f"{API}/indicators", {"code": "t03-nul-test", "task": 3, "name_zh": "测试{}", "name_en": "Test",
                                   "unit": "count", "measure": "stock", "direction": "up", "level": "district",
                                   "frequency": "year"}),
    ("PATCH", f"{API}/indicators/{STOCK}", {"name_en": "Practice{}bases"}),
    ("PATCH", f"{API}/indicators/{STOCK}", {"source": "plan{}text"}),
    ("POST", f"{API}/indicators/{STOCK}/targets", {"unit": HUANGDAO, "kind": "reach", "op": ">=", "value": 1,
                                                 "year": 2020, "note": "note{}"}),
    ("POST", f"{API}/keys", {"role": "bureau", "name": "key{}name"}),
]


@pytest.mark.parametrize("char", ["\x00", "\x07\x1b\x7f"], ids=repr)
async def test_control_characters_in_admin_text_are_stored_verbatim_or_refused(
    app_ctx: Any, keys: Keys, session: AsyncSession, char: str
) -> None:
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:  # a 500 is answered, not raised
        for method, path, template in ADMIN_TEXT:
            body = orjson.loads(orjson.dumps(template).decode().replace("{}", orjson.dumps(char).decode()[1:-1]))
            field = next(k for k, v in template.items() if "{}" in str(v))
            r = await client.request(method, path, json=body, headers=keys.auth(keys.admin))
            if r.status_code >= 400:
                if (why := _problem(r)) is not None:
                    problems.append(f"{method} {path} {field}: {why}")
                continue
            # Accepted: whatever was sent comes back exactly.
            got = r.json().get(field)
            if got != body[field]:
                problems.append(f"{method} {path} {field}: stored {got!r}, sent {body[field]!r}")
    assert not problems, "\n".join(problems)


# --- SQL-looking strings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["json", "csv"])
async def test_sql_in_a_data_field_is_a_row_conflict(
    app_ctx: Any, keys: Keys, session: AsyncSession, form: str
) -> None:
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:
        for field in ("indicator", "unit", "period", "value", "numerator", "denominator"):
            row = {"indicator": RATE, "unit": HUANGDAO, "period": "2020", "value": None, "numerator": 971,
                   "denominator": 1000, "comment": None, field: SQLI}
            if form == "json":
                body: Any = {"values": [row]}
            else:
                body = CSV_HEADER + ",".join('"' + str(row[c]).replace('"', '""') + '"' if row[c] is not None else ""
                                             for c in CSV_HEADER.strip().split(",")) + "\r\n"
            r = await post(client, keys.huangdao, body)
            if (why := _problem(r, 422)) is not None:
                problems.append(f"{field}: {why}")
                continue
            found = [c["code"] for c in r.json()["conflicts"]]
            if len(found) != 1 or found[0] not in {"unknown_indicator", "unknown_unit", "bad_period", "bad_number",
                                                   "invalid_row"}:
                problems.append(f"{field}: conflicts {found}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("form", ["json", "csv"])
async def test_sql_in_a_comment_is_stored_verbatim(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, form: str
) -> None:
    before = await counts(session)
    if form == "json":
        r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", _stock_row(comment=SQLI)))
    else:
        r = await post(client, keys.huangdao, CSV_HEADER + f'{STOCK},{HUANGDAO},2020,5,,,"{SQLI}"\r\n')
    assert r.status_code == 200 and r.json()["counts"]["created"] == 1, r.text
    [stored] = await current(client, keys.huangdao, indicator=STOCK)
    assert stored["comment"] == SQLI
    history = await client.get(HISTORY, params={"indicator": STOCK, "unit": HUANGDAO, "period": "2020"},
                               headers=keys.auth(keys.huangdao))
    assert [h["comment"] for h in history.json()] == [SQLI]
    after = await counts(session)  # the table is still there, with one more row
    assert after["measurements"] == before["measurements"] + 1
    assert after["measurement_revisions"] == before["measurement_revisions"] + 1


SQL_QUERIES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", MEASUREMENTS, {"indicator": SQLI}),
    ("GET", MEASUREMENTS, {"unit": SQLI}),
    ("GET", MEASUREMENTS, {"period_from": SQLI[:16]}),
    ("GET", MEASUREMENTS, {"period_to": SQLI[:16]}),
    ("GET", MEASUREMENTS, {"as_of": SQLI}),
    ("GET", MEASUREMENTS, {"cursor": SQLI}),
    ("GET", MEASUREMENTS, {"limit": SQLI}),
    ("GET", HISTORY, {"indicator": SQLI, "unit": HUANGDAO, "period": "2020"}),
    ("GET", HISTORY, {"indicator": STOCK, "unit": SQLI, "period": "2020"}),
    ("GET", HISTORY, {"indicator": STOCK, "unit": HUANGDAO, "period": SQLI[:16]}),
    ("DELETE", MEASUREMENTS, {"indicator": SQLI, "unit": HUANGDAO, "period": "2020"}),
    ("DELETE", MEASUREMENTS, {"indicator": STOCK, "unit": SQLI, "period": "2020"}),
    ("DELETE", MEASUREMENTS, {"indicator": STOCK, "unit": HUANGDAO, "period": SQLI[:16]}),
    ("POST", MEASUREMENTS, {"dry_run": SQLI}),
    ("POST", MEASUREMENTS, {"atomic": SQLI}),
    ("GET", f"{API}/attainment", {"unit": SQLI}),
    ("GET", f"{API}/attainment", {"department": SQLI}),
    ("GET", f"{API}/attainment", {"indicator": SQLI}),
    ("GET", f"{API}/attainment", {"date": SQLI[:10]}),
    ("GET", f"{API}/attainment", {"as_of": SQLI}),
    ("GET", f"{API}/attainment", {"status": SQLI}),
    ("GET", f"{API}/attainment/summary", {"date": SQLI[:10], "as_of": SQLI}),
    ("GET", f"{API}/tasks", {"department": SQLI}),
    ("GET", f"{API}/indicators", {"department": SQLI}),
    ("GET", f"{API}/units", {"parent": SQLI}),
    ("GET", f"{API}/catalog/revisions", {"key": SQLI}),
    ("GET", f"{API}/units/{quote(SQLI, safe='')}", {}),
    ("GET", f"{API}/indicators/{quote(SQLI, safe='')}", {}),
    ("GET", f"{API}/tasks/{quote(SQLI, safe='')}", {}),
]


async def test_sql_in_query_parameters_and_paths_is_harmless(
    app_ctx: Any, keys: Keys, session: AsyncSession
) -> None:
    problems = []
    async with nothing_stored(session), lenient_client(app_ctx) as client:
        for method, path, params in SQL_QUERIES:
            kwargs: dict[str, Any] = {"json": batch(HUANGDAO, "2020", _stock_row())} if method == "POST" else {}
            r = await client.request(method, path, params=params, headers=keys.auth(keys.huangdao), **kwargs)
            if r.status_code >= 400:
                why = _problem(r)
            else:  # a filter that matches nothing
                why = f"{r.status_code} echoing the input: {r.text[:200]}" if SQLI in r.text else None
            if why is not None:
                problems.append(f"{method} {path} {params}: {why}")
    assert not problems, "\n".join(problems)


# --- content types, empty and undecodable bodies -------------------------------------------------------------------

async def test_wrong_content_type_is_415(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    body = orjson.dumps(batch(HUANGDAO, "2020", _stock_row()))
    problems = []
    async with nothing_stored(session):
        for content_type in ("text/plain", "application/xml", "text/xml", "application/x-www-form-urlencoded",
                             "application/octet-stream", "application/jsonx", "text/html; charset=utf-8", None):
            headers = {**keys.auth(keys.huangdao), **({"Content-Type": content_type} if content_type else {})}
            r = await client.post(MEASUREMENTS, content=body, headers=headers)
            if (why := _problem(r, 415)) is not None:
                problems.append(f"{content_type}: {why}")
    assert not problems, "\n".join(problems)


async def test_multipart_upload_is_415(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    csv = CSV_HEADER + f"{STOCK},{HUANGDAO},2020,5,,,\r\n"
    async with nothing_stored(session):
        r = await client.post(MEASUREMENTS, files={"file": ("values.csv", csv.encode(), "text/csv")},
                              headers=keys.auth(keys.huangdao))
        assert r.request.headers["content-type"].startswith("multipart/form-data")
        assert_problem(r, 415)


async def test_empty_body_is_400(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    problems = []
    async with nothing_stored(session):
        for content_type in ("application/json", "text/csv", "text/csv; charset=gbk"):
            if (why := _problem(await post(client, keys.huangdao, b"", content_type=content_type), 400)) is not None:
                problems.append(f"{content_type}: {why}")
    assert not problems, "\n".join(problems)


async def test_invalid_utf8_in_json_is_400(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    bodies = [
        b'{"unit": "370211", "period": "2020", "values": [{"indicator": "\xff\xfe", "value": 5}]}',
        b'{"values": [{"indicator": "t14-practice-base", "comment": "\xc3\x28"}]}',
        b"\xef\xbb\xbf\xff" + b'{"values": []}',
    ]
    problems = []
    async with nothing_stored(session):
        for body in bodies:
            r = await post(client, keys.huangdao, body, content_type="application/json")
            if (why := _problem(r, 400)) is not None:
                problems.append(f"{body!r}: {why}")
    assert not problems, "\n".join(problems)


async def test_csv_declared_utf8_but_not_is_400(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    csv = CSV_HEADER.encode() + f"{STOCK},{HUANGDAO},2020,5,,,".encode() + b"\xff\xfe\xfd\r\n"
    async with nothing_stored(session):
        assert_problem(await post(client, keys.huangdao, csv, content_type="text/csv; charset=utf-8"), 400)


# --- query strings and headers -----------------------------------------------------------------------------------

async def test_thousands_of_query_parameters_are_harmless(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    # 5,000 parameters keep the URL under httpx's 64 KiB limit; the raw-ASGI test below sends 100,000.
    junk: list[tuple[str, str | int | float | bool | None]] = [(f"p{i}", "1") for i in range(5_000)]
    junk += [("unit_", SQLI)] * 20
    async with nothing_stored(session):
        r = await client.get(MEASUREMENTS, params=junk, headers=keys.auth(keys.huangdao))
        assert r.status_code == 200 and r.json()["items"] == [], r.text
        r = await client.post(MEASUREMENTS, params=[*junk, *[("dry_run", "true")] * 500],
                              json=batch(HUANGDAO, "2020", _stock_row()), headers=keys.auth(keys.huangdao))
        assert r.status_code == 200 and r.json()["result"] == "dry_run", r.text
        r = await client.post(MEASUREMENTS, params=junk, json=batch(HUANGDAO, "2020", _stock_row(indicator=SQLI)),
                              headers=keys.auth(keys.huangdao))
        assert [c["code"] for c in assert_problem(r, 422)["conflicts"]] == ["unknown_indicator"]


async def _raw_asgi(app: Any, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
                    body: bytes = b"") -> tuple[int, bytes]:
    """One request straight into the ASGI app, past any client-side URL limit (a server such as uvicorn with
    httptools passes long request lines on)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
             "headers": [(b"host", b"attain.test"), *headers], "client": ("127.0.0.1", 1),
             "server": ("attain.test", 80)}
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def test_a_hundred_thousand_query_parameters_straight_to_the_app(
    app_ctx: Any, keys: Keys, session: AsyncSession
) -> None:
    query = "&".join(f"p{i}={quote(SQLI)}" for i in range(100_000)).encode()
    assert len(query) > MIB
    auth = [(b"authorization", f"Bearer {keys.huangdao}".encode())]
    async with nothing_stored(session):
        status, body = await _raw_asgi(app_ctx, "GET", MEASUREMENTS, query, auth)
        assert status == 200 and orjson.loads(body)["items"] == [], body[:500]
        status, body = await _raw_asgi(app_ctx, "POST", MEASUREMENTS, query + b"&dry_run=true",
                                       [*auth, (b"content-type", b"application/json")],
                                       orjson.dumps(batch(HUANGDAO, "2020", _stock_row())))
        assert status == 200 and orjson.loads(body)["result"] == "dry_run", body[:500]


@pytest.mark.parametrize("length", [256, 10_000])
async def test_over_long_idempotency_key_is_4xx(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, length: int
) -> None:
    headers = {**keys.auth(keys.huangdao), "Idempotency-Key": "k" * length}
    async with nothing_stored(session):
        r = await client.post(MEASUREMENTS, json=batch(HUANGDAO, "2020", _stock_row()), headers=headers)
        assert 400 <= r.status_code < 500, r.text
        assert_problem(r, r.status_code)
