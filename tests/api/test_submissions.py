"""POST /measurements: each row rule gives its stable conflict code, batches are partial, dry-run or atomic,
resends are unchanged, CSV arrives in the encodings districts use, and yearly totals follow every write."""

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.helpers import (
    CITY,
    FLOW,
    HISTORY,
    HUANGDAO,
    MEASUREMENTS,
    RATE,
    SHINAN,
    STOCK,
    assert_problem,
    batch,
    codes,
    count_rows,
    counts,
    current,
    lenient_client,
    next_year,
    post,
    rate,
    settled,
    tally,
)
from tests.conftest import Keys

CSV_HEADER = "indicator,unit,period,value,numerator,denominator,comment\r\n"

# (key, body, conflict code, text the detail must contain)
RULES: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "unknown indicator": ("huangdao", batch(HUANGDAO, "2020", rate("t99-no-such-thing")), "unknown_indicator",
                          "t99-no-such-thing"),
    "unknown unit": ("huangdao", batch("370299", "2020", rate()), "unknown_unit", "370299"),
    "retired unit": ("huangdao", batch("370282", "2020", rate()), "retired_unit", "370215"),
    "quarter 5": ("huangdao", batch(HUANGDAO, "2020Q5", rate()), "bad_period", "2020Q5"),
    "garbage period": ("huangdao", batch(HUANGDAO, "20x", rate()), "bad_period", "20x"),
    "month of a yearly indicator": ("huangdao", batch(HUANGDAO, "2020-07", rate()), "period_too_fine", "year"),
    "future period": ("huangdao", batch(HUANGDAO, next_year(), rate()), "future_period", "Asia/Shanghai"),
    "101 percent": ("huangdao", batch(HUANGDAO, "2020", rate(n=1010, d=1000)), "out_of_bounds", "101"),
    "rate without fraction": ("huangdao", batch(HUANGDAO, "2020", {"indicator": RATE, "value": 97.1}),
                              "rate_needs_fraction", "numerator"),
    "rate disagrees with n/d": ("huangdao", batch(HUANGDAO, "2020", rate(value=97.0)), "rate_mismatch", "97.1"),
    "zero denominator": ("huangdao", batch(HUANGDAO, "2020", rate(n=0, d=0)), "zero_denominator", "0"),
    "city indicator from a district": ("admin", batch(HUANGDAO, "2020", {"indicator": FLOW, "value": 1e6}),
                                       "city_level_indicator", "370200"),
}


@pytest.mark.parametrize("case", list(RULES))
async def test_each_rule_gives_its_code_and_stores_nothing(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, case: str
) -> None:
    key, body, code, detail = RULES[case]
    before = await counts(session)
    r = await post(client, getattr(keys, key), body)
    doc = assert_problem(r, 422)
    assert doc["counts"] == tally(rejected=1)
    [conflict] = doc["conflicts"]
    assert conflict["index"] == 0 and conflict["line"] is None and conflict["code"] == code
    assert detail in conflict["detail"]
    assert conflict["indicator"] == body["values"][0]["indicator"]
    assert await counts(session) == before


async def test_valid_rate_is_stored_with_its_derived_value(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(value=97.104, comment="校园网达标")))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"result": "success", "counts": tally(created=1), "conflicts": [],
                        "warnings": []}
    [item] = await current(client, keys.bureau, indicator=RATE)
    assert (item["unit"], item["period"], item["numerator"], item["denominator"]) == (HUANGDAO, "2020", 971, 1000)
    assert item["value"] == pytest.approx(97.1) and item["comment"] == "校园网达标"
    after = await counts(session)
    # One value, one revision, and the yearly rows of the district and of the city above it.
    assert after == {"measurements": before["measurements"] + 1,
                     "measurement_revisions": before["measurement_revisions"] + 1,
                     "yearly_values": before["yearly_values"] + 2}


async def test_duplicates_after_normalisation_are_all_rejected(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    body = {"period": "2020", "values": [
        rate(unit=HUANGDAO), rate(unit="黄岛区", n=950), rate(unit="西海岸新区", n=960), rate(unit=SHINAN),
    ]}
    r = await post(client, keys.admin, body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["result"] == "partial" and doc["counts"] == tally(created=1, rejected=3)
    assert codes(doc) == [(0, "duplicate_in_request"), (1, "duplicate_in_request"), (2, "duplicate_in_request")]
    assert {c["unit"] for c in doc["conflicts"]} == {HUANGDAO}
    assert [i["unit"] for i in await current(client, keys.bureau, indicator=RATE)] == [SHINAN]
    assert (await counts(session))["measurements"] == before["measurements"] + 1


async def test_flow_period_overlapping_a_stored_one_is_refused(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    r = await post(client, keys.admin, batch(CITY, "2020", {"indicator": FLOW, "value": 30_000_000}))
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text
    before = await counts(session)
    r = await post(client, keys.admin, batch(CITY, "2020Q1", {"indicator": FLOW, "value": 5_000_000}))
    doc = assert_problem(r, 422)
    assert codes(doc) == [(0, "period_overlap")] and "2020" in doc["conflicts"][0]["detail"]
    assert await counts(session) == before
    # Two overlapping flow periods within one request are refused as well.
    body = {"unit": CITY, "values": [{"indicator": FLOW, "period": "2019", "value": 1},
                                     {"indicator": FLOW, "period": "2019Q2", "value": 1}]}
    assert codes(assert_problem(await post(client, keys.admin, body), 422)) == [(0, "period_overlap"),
                                                                                 (1, "period_overlap")]


MIXED = batch(HUANGDAO, "2020", rate(), rate("t99-unknown"), rate("t27-rural-school-pairing", n=40, d=50),
              rate("t08-online-admission", n=1, d=0))


async def test_mixed_batch_is_partial(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    before = await counts(session)
    r = await post(client, keys.huangdao, MIXED)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["result"] == "partial" and doc["counts"] == tally(created=2, rejected=2)
    assert codes(doc) == [(1, "unknown_indicator"), (3, "zero_denominator")]
    assert (await counts(session))["measurement_revisions"] == before["measurement_revisions"] + 2


async def test_all_rows_bad_is_a_422_problem_with_counts(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    body = batch(HUANGDAO, None, rate(period="2020Q5"), rate("nope", period="2020"))
    doc = assert_problem(await post(client, keys.huangdao, body), 422)
    assert doc["counts"] == tally(rejected=2)
    assert codes(doc) == [(0, "bad_period"), (1, "unknown_indicator")]
    assert await counts(session) == before


async def test_dry_run_answers_what_the_real_run_would_and_stores_nothing(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    dry = await post(client, keys.huangdao, MIXED, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["result"] == "dry_run" and dry.json()["counts"] == tally(created=2, rejected=2)
    assert await counts(session) == before
    real = await post(client, keys.huangdao, MIXED)
    assert real.json()["counts"] == dry.json()["counts"] and real.json()["conflicts"] == dry.json()["conflicts"]
    # Against stored values the dry run now sees what a resend would be: unchanged.
    before = await counts(session)
    again = await post(client, keys.huangdao, MIXED, dry_run=True)
    assert again.json()["counts"] == tally(unchanged=2, rejected=2)
    assert await counts(session) == before


async def test_atomic_with_one_bad_row_rejects_every_row(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    doc = assert_problem(await post(client, keys.huangdao, MIXED, atomic=True), 422)
    assert doc["counts"] == tally(rejected=4)
    assert codes(doc) == [(1, "unknown_indicator"), (3, "zero_denominator")]
    assert await counts(session) == before
    good = batch(HUANGDAO, "2020", rate(), rate("t27-rural-school-pairing", n=40, d=50))
    r = await post(client, keys.huangdao, good, atomic=True)
    assert r.status_code == 200 and r.json()["counts"] == tally(created=2), r.text


async def test_resend_is_unchanged_and_a_change_is_one_update(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    body = batch(HUANGDAO, "2020", rate(comment="ok"), {"indicator": STOCK, "value": 12})
    assert (await post(client, keys.huangdao, body)).json()["counts"] == tally(created=2)
    before = await counts(session)
    r = await post(client, keys.huangdao, body)
    assert r.status_code == 200 and r.json() == {"result": "success", "counts": tally(unchanged=2), "conflicts": [],
                                                 "warnings": []}
    assert await counts(session) == before
    body["values"][1]["value"] = 13
    r = await post(client, keys.huangdao, body)
    assert r.json()["counts"] == tally(updated=1, unchanged=1)
    after = await counts(session)
    assert after["measurements"] == before["measurements"]
    assert after["measurement_revisions"] == before["measurement_revisions"] + 1
    revs = (await client.get(HISTORY, params={"indicator": STOCK, "unit": HUANGDAO, "period": "2020"},
                             headers=keys.auth(keys.bureau))).json()
    assert [(v["action"], v["value"], v["old_value"]) for v in revs] == [("create", 12, None), ("update", 13, 12)]
    # A changed comment alone is a change too.
    body["values"][0]["comment"] = "corrected"
    assert (await post(client, keys.huangdao, body)).json()["counts"] == tally(updated=1, unchanged=1)


async def test_city_yearly_value_is_the_pooled_rate_of_its_districts(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    assert (await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(n=900, d=1000)))).status_code == 200
    assert (await post(client, keys.shinan, batch(SHINAN, "2020", rate(n=80, d=100)))).status_code == 200
    await settled(session)
    rows = (await session.execute(text(
        "SELECT unit_code, value, numerator, denominator, own, reported, total FROM yearly_values "
        "WHERE indicator_code = :i AND year = 2020 ORDER BY unit_code"), {"i": RATE})).all()
    await session.rollback()
    by_unit = {r[0]: r for r in rows}
    assert set(by_unit) == {CITY, SHINAN, HUANGDAO}
    city = by_unit[CITY]
    assert city[1] == pytest.approx(980 / 1100 * 100) and city[1] == pytest.approx(89.0909, abs=1e-4)
    assert (city[2], city[3], bool(city[4]), city[5], city[6]) == (980, 1100, False, 2, 10)
    assert bool(by_unit[HUANGDAO][4]) is True and by_unit[HUANGDAO][1] == pytest.approx(90.0)


# --- CSV -------------------------------------------------------------------------------------------------

async def test_csv_utf8_with_and_without_bom(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    csv = CSV_HEADER + f"{RATE},黄岛区,2020,,971,1000,全部达标\r\n"
    for body in (b"\xef\xbb\xbf" + csv.encode(), csv.replace("2020", "2019").encode()):
        r = await post(client, keys.huangdao, body, content_type="text/csv; charset=utf-8")
        assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text
    r = await post(client, keys.huangdao, csv.replace("2020", "2018").encode())  # no charset at all
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text
    items = await current(client, keys.bureau, indicator=RATE)
    assert [(i["unit"], i["period"], i["comment"]) for i in items] == [
        (HUANGDAO, p, "全部达标") for p in ("2018", "2019", "2020")]


@pytest.mark.parametrize("content_type", ["text/csv; charset=gbk", "text/csv; charset=GB2312", "text/csv"])
async def test_csv_in_gbk_with_chinese_unit_names(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, content_type: str
) -> None:
    csv = CSV_HEADER + f"{RATE},黄岛区,2020,,971,1000,西海岸\r\n{RATE},西海岸新区,2019,,950,1000,\r\n"
    r = await post(client, keys.huangdao, csv.encode("gbk"), content_type=content_type)
    assert r.status_code == 200 and r.json()["counts"] == tally(created=2), r.text
    items = await current(client, keys.bureau, indicator=RATE)
    assert [(i["unit"], i["period"], i["comment"]) for i in items] == [(HUANGDAO, "2019", None),
                                                                          (HUANGDAO, "2020", "西海岸")]


async def test_csv_conflicts_carry_csv_line_numbers(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    csv = (CSV_HEADER
           + f"{RATE},370211,2020,,971,1000,\r\n"  # line 2
           + "\r\n"  # line 3: blank, skipped
           + f'{RATE},370211,2019,,971,0,"two\r\nlines"\r\n'  # lines 4-5
           + f"{STOCK},370211,2020Q5,3,,,\r\n"  # line 6
           + f"{STOCK},370211,2020\r\n")  # line 7: too few cells
    before = await counts(session)
    r = await post(client, keys.huangdao, csv)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["counts"] == tally(created=1, rejected=3)
    assert [(c["index"], c["line"], c["code"]) for c in doc["conflicts"]] == [
        (1, 4, "zero_denominator"), (2, 6, "bad_period"), (3, 7, "invalid_row")]
    assert (await counts(session))["measurements"] == before["measurements"] + 1


@pytest.mark.parametrize(("body", "content_type", "status"), [
    ("unit,period,value\r\n370211,2020,1\r\n", "text/csv", 400),  # no indicator column
    ("indicator,period,colour\r\n", "text/csv", 400),  # unknown column
    ("", "text/csv", 400),  # empty
    (CSV_HEADER.encode("utf-8") + "黄岛区".encode("gbk"), "text/csv; charset=utf-8", 400),  # declared wrongly
    (CSV_HEADER, "text/csv; charset=latin-9", 400),
    ('{"unit": "370211", "values": [', "application/json", 400),
    ('["not", "an", "object"]', "application/json", 400),
    ('{"unit": "370211", "values": [], "extra": 1}', "application/json", 400),
    (CSV_HEADER, "text/plain", 415),
    ('{"values": []}', "application/xml", 415),
])
async def test_unreadable_bodies(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, body: str | bytes, content_type: str, status: int
) -> None:
    before = await counts(session)
    assert_problem(await post(client, keys.huangdao, body, content_type=content_type), status)
    assert await counts(session) == before


async def test_a_2xx_is_sent_only_once_the_values_are_committed(
    app_ctx: Any, keys: Keys, session: AsyncSession
) -> None:
    """SPEC: an acknowledged value survives a crash, so the commit must precede the answer."""
    body = orjson.dumps(batch(HUANGDAO, "2020", rate()))
    stored_when_answered: list[int] = []
    done = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
            stored_when_answered.append(await count_rows(session, "measurement_revisions"))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": MEASUREMENTS, "raw_path": MEASUREMENTS.encode(), "root_path": "", "query_string": b"",
        "client": ("127.0.0.1", 50000), "server": ("attain.test", 80),
        "headers": [(b"host", b"attain.test"), (b"authorization", f"Bearer {keys.huangdao}".encode()),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    before = await count_rows(session, "measurement_revisions")
    await app_ctx(scope, receive, send)
    assert await count_rows(session, "measurement_revisions") == before + 1
    assert stored_when_answered == [before + 1], "the 200 went out before the transaction committed"


@pytest.mark.parametrize("as_csv", [False, True], ids=["json", "csv"])
async def test_a_nul_character_in_a_comment_is_a_row_conflict_not_a_500(
    app_ctx: Any, keys: Keys, session: AsyncSession, as_csv: bool
) -> None:
    """PostgreSQL cannot store NUL in text; the row must be refused, never turned into a 500."""
    before = await counts(session)
    body: dict[str, Any] | str = (CSV_HEADER + f"{RATE},370211,2020,,971,1000,a\x00b\r\n" if as_csv
                                  else batch(HUANGDAO, "2020", rate(comment="a\u0000b")))
    async with lenient_client(app_ctx) as c:
        r = await post(c, keys.huangdao, body)
    assert codes(assert_problem(r, 422)) == [(0, "invalid_row")]
    assert await counts(session) == before


async def test_an_unterminated_quote_is_400_not_a_silent_merge_of_the_lines_below(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    csv = (CSV_HEADER + f'{RATE},370211,2020,,971,1000,"全部\r\n'
           + f"{RATE},370211,2019,,950,1000,\r\n{RATE},370211,2018,,940,1000,\r\n")
    before = await counts(session)
    r = await post(client, keys.huangdao, csv)
    assert_problem(r, 400)
    assert await counts(session) == before
