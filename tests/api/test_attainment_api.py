"""The attainment endpoints as a whole: as_of, filters, the summary, CSV, ETags and bad queries."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.periods import SHANGHAI, today_in_shanghai
from tests.api.attainment_helpers import (
    API,
    CARE_ROOM,
    CITY,
    DISTRICTS,
    FUNDING,
    GROSS_ENROLMENT,
    HUANGDAO,
    NETWORK,
    OVERSIZED,
    PRACTICE_BASE,
    PRESCHOOL,
    SHINAN,
    get_report,
    load_network_example,
    patch_target,
    pick,
    post_values,
    rate,
    row_of,
    rows_for,
    target_of,
    value,
)
from tests.conftest import Keys

BOM = b"\xef\xbb\xbf"
PROBLEM = "application/problem+json"


async def _recorded_at(client: httpx.AsyncClient, keys: Keys, indicator: str, unit: str, period: str) -> str:
    """When the latest revision of a value was recorded (an RFC 3339 instant)."""
    r = await client.get(f"{API}/measurements/history", params={"indicator": indicator, "unit": unit,
                                                                 "period": period}, headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    stamp: str = r.json()[-1]["recorded_at"]
    return stamp


async def test_as_of_reproduces_a_report_before_a_correction(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [value(GROSS_ENROLMENT, CITY, "2020", 95)])
    first = await _recorded_at(client, keys, GROSS_ENROLMENT, CITY, "2020")
    await post_values(client, keys.admin, [value(GROSS_ENROLMENT, CITY, "2020", 100)])
    corrected = await _recorded_at(client, keys, GROSS_ENROLMENT, CITY, "2020")
    assert corrected > first

    old = await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01", as_of=first)
    assert old["actual"]["value"] == 95 and old["status"] == "missed"
    new = await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01", as_of=corrected)
    assert new["actual"]["value"] == 100 and new["status"] == "achieved"
    assert (await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01"))["status"] == "achieved"
    doc = await get_report(client, keys, date="2021-03-01", as_of=first, indicator=GROSS_ENROLMENT)
    assert doc["date"] == "2021-03-01" and datetime.fromisoformat(doc["as_of"]) == datetime.fromisoformat(first)
    assert (await get_report(client, keys, date="2021-03-01"))["as_of"] == "now"

    before_anything = datetime.fromisoformat(first) - timedelta(microseconds=1)
    row = await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01", as_of=before_anything.isoformat())
    assert row["status"] == "no_data" and row["actual"] is None


async def test_as_of_keeps_the_target_as_it_stood(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [value(GROSS_ENROLMENT, CITY, "2020", 100)])
    known = await _recorded_at(client, keys, GROSS_ENROLMENT, CITY, "2020")
    target = await target_of(client, keys, GROSS_ENROLMENT)
    await patch_target(client, keys, target["id"], value=110)

    now = await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01")
    assert now["target"] == 110 and now["status"] == "missed"
    then = await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01", as_of=known)
    assert then["target"] == 99 and then["status"] == "achieved" and then["target_id"] == target["id"]

    r = await client.delete(f"{API}/targets/{target['id']}", headers=keys.auth(keys.admin))
    assert r.status_code == 204
    assert await rows_for(client, keys, GROSS_ENROLMENT, date="2021-03-01") == []
    assert (await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01", as_of=known))["target"] == 99


async def test_as_of_a_bare_date(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    current = await get_report(client, keys, date="2020-03-01")
    today = await get_report(client, keys, date="2020-03-01", as_of=today_in_shanghai().isoformat())
    assert today["rows"] == current["rows"] and today["rows"]  # the end of today: everything known so far
    # A bare date is the end of that day in Asia/Shanghai: the day the value was recorded sees it, the day
    # before does not.
    stamp = datetime.fromisoformat(await _recorded_at(client, keys, NETWORK, HUANGDAO, "2019"))
    day = stamp.astimezone(SHANGHAI).date()
    seen = await row_of(client, keys, NETWORK, date="2020-03-01", as_of=day.isoformat())
    assert seen["complete"] == {"reported": 2, "expected": 10}
    earlier = await get_report(client, keys, date="2020-03-01", as_of=(day - timedelta(days=1)).isoformat())
    assert all(r["actual"] is None for r in earlier["rows"])
    # The catalog and the values were all recorded after 2020: nothing was known then.
    assert (await get_report(client, keys, date="2020-03-01", as_of="2020-01-01"))["rows"] == []


@pytest.mark.parametrize(("params", "location"), [
    ({"as_of": "yesterday"}, "query.as_of"),
    ({"as_of": "2021-03-01T12:00:00"}, "query.as_of"),  # no offset
    ({"as_of": "2021-02-30"}, "query.as_of"),
    ({"date": "2021-02-30"}, "query.date"),
    ({"date": "soon"}, "query.date"),
    ({"date": "2021-03-01T00:00:00Z"}, "query.date"),
    ({"unit": "火星区"}, "query.unit"),
    ({"unit": "370284"}, "query.unit"),  # 胶南市, retired into 黄岛区
    ({"department": "宣传处"}, "query.department"),
    ({"status": "fine"}, "query.status"),
    ({"task": "0"}, "query.task"),
])
async def test_bad_queries_are_422_problems(
    client: httpx.AsyncClient, keys: Keys, params: dict[str, str], location: str
) -> None:
    r = await client.get(f"{API}/attainment", params=params, headers=keys.auth(keys.bureau))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    doc = r.json()
    assert doc["status"] == 422 and doc["title"] and doc["detail"]
    assert location in [e["location"] for e in doc.get("errors", [])], doc
    if params.get("unit") == "370284":
        assert "370211" in doc["detail"]


async def test_an_unknown_indicator_filter_is_a_problem(client: httpx.AsyncClient, keys: Keys) -> None:
    # SPEC "Bad input": an unknown indicator gets a clear 4xx problem, as an unknown unit or department does here
    # and as GET /measurements?indicator= does (404) — not an empty 200 that reads as "no targets".
    r = await client.get(f"{API}/attainment", params={"indicator": "t99-no-such-thing"}, headers=keys.auth(keys.bureau))
    assert r.status_code in (404, 422), r.text
    assert r.headers["content-type"].startswith(PROBLEM) and "t99-no-such-thing" in r.json()["detail"]


@pytest.fixture
async def lenient(app_ctx: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client that receives the 500 answer instead of the app's exception, so a test can assert on it."""
    transport = httpx.ASGITransport(app=app_ctx, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://attain.test") as c:
        yield c


@pytest.mark.parametrize("params", [
    {"date": "9999-12-31"},  # an open-ended target's window runs to 9999; 1 January 10000 does not exist
    {"as_of": "9999-12-31"},  # the end of that day overflows
    {"as_of": "9999-12-31T23:59:59-08:00"},  # in UTC, after year 9999
    {"as_of": "0001-01-01T00:00:00+08:00"},  # in UTC, before year 1
])
async def test_extreme_dates_are_never_a_500(lenient: httpx.AsyncClient, keys: Keys, params: dict[str, str]) -> None:
    for path in ("/attainment", "/attainment/summary"):
        r = await lenient.get(f"{API}{path}", params=params, headers=keys.auth(keys.bureau))
        assert r.status_code in (200, 422), (path, r.text)
        if r.status_code == 422:
            assert r.headers["content-type"].startswith(PROBLEM)


async def test_summary_rejects_a_bad_date(client: httpx.AsyncClient, keys: Keys) -> None:
    for params in ({"date": "2021-13-01"}, {"as_of": "later"}):
        r = await client.get(f"{API}/attainment/summary", params=params, headers=keys.auth(keys.bureau))
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text


async def test_only_readers_see_attainment(client: httpx.AsyncClient, keys: Keys) -> None:
    assert (await client.get(f"{API}/attainment")).status_code == 401
    assert (await client.get(f"{API}/attainment", headers=keys.auth(keys.scraper))).status_code == 403
    assert (await client.get(f"{API}/attainment", headers=keys.auth(keys.huangdao))).status_code == 200


def _units(doc: dict[str, Any]) -> set[str]:
    return {r["unit_code"] for r in doc["rows"]}


def _keys(doc: dict[str, Any]) -> list[tuple[int, str]]:
    return [(r["target_id"], r["unit_code"]) for r in doc["rows"]]


async def test_filters(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    every = await get_report(client, keys, date="2020-03-01")
    by_code = await get_report(client, keys, date="2020-03-01", unit=HUANGDAO)
    assert _units(by_code) == {HUANGDAO} and by_code["rows"]
    assert _keys(await get_report(client, keys, date="2020-03-01", unit="西海岸新区")) == _keys(by_code)
    assert _keys(await get_report(client, keys, date="2020-03-01", unit="黄岛区")) == _keys(by_code)
    assert pick(by_code["rows"], HUANGDAO, indicator=NETWORK)["inherited"] is True

    task3 = await get_report(client, keys, date="2020-03-01", task=3)
    assert {r["indicator"] for r in task3["rows"]} == {NETWORK, "t03-smart-campus-demo-school"}
    action2 = await get_report(client, keys, date="2020-03-01", action=2)
    assert {r["task"] for r in action2["rows"]} == {3, 4, 8, 9} and {r["action"] for r in action2["rows"]} == {2}

    centre = await get_report(client, keys, date="2020-03-01", department="装备信息中心")
    assert centre["rows"] and all("zhuangbei-xinxi" in r["departments"] for r in centre["rows"])
    assert {3, 27} <= {r["task"] for r in centre["rows"]}
    for same in ("教育装备与信息中心", "zhuangbei-xinxi"):
        assert _keys(await get_report(client, keys, date="2020-03-01", department=same)) == _keys(centre)
    approval = await get_report(client, keys, date="2020-03-01", department="审批处")
    indicators = {r["indicator"] for r in approval["rows"]}
    assert {"t08-one-visit-service-items", "t08-status-change-online", "t08-online-admission"} <= indicators
    assert all("shenpi-zhifa" in r["departments"] for r in approval["rows"])
    assert _keys(await get_report(client, keys, date="2020-03-01", department="行政审批与执法处")) == _keys(approval)
    expected = [k for k, r in zip(_keys(every), every["rows"], strict=True) if "shenpi-zhifa" in r["departments"]]
    assert _keys(approval) == expected

    one = await get_report(client, keys, date="2020-03-01", indicator=NETWORK)
    assert {r["indicator"] for r in one["rows"]} == {NETWORK} and len(one["rows"]) == 11
    no_data = await get_report(client, keys, date="2020-03-01", status="no_data")
    assert no_data["rows"] and {r["status"] for r in no_data["rows"]} == {"no_data"}
    on_track = await get_report(client, keys, date="2020-03-01", status="on_track", unit=CITY)
    assert [(r["indicator"], r["unit_code"]) for r in on_track["rows"]] == [(NETWORK, CITY)]
    combined = await get_report(client, keys, date="2020-03-01", task=3, unit="西海岸新区", status="on_track")
    assert [(r["indicator"], r["unit_code"]) for r in combined["rows"]] == [(NETWORK, HUANGDAO)]


async def _summary(client: httpx.AsyncClient, keys: Keys, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{API}/attainment/summary", params=params, headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def test_summary_counts_city_rows_per_action_and_department(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys, years=(2018, 2019, 2020))  # city achieved, 市南区 missed
    report = await get_report(client, keys, date="2021-03-01")
    summary = await _summary(client, keys, date="2021-03-01")
    assert summary["date"] == "2021-03-01" and summary["as_of"] == "now"
    indicators = (await client.get(f"{API}/indicators", headers=keys.auth(keys.bureau))).json()
    targets = 0
    for i in indicators:
        targets += len(await target_list(client, keys, i["code"]))
    city_rows = [r for r in report["rows"] if not r["inherited"] and r["parent_unit"] is None]
    assert summary["total"]["total"] == len(city_rows) == targets
    assert sum(summary["total"]["counts"].values()) == targets
    assert summary["total"]["counts"]["achieved"] == 1
    assert summary["total"]["counts"]["missed"] == 0  # 市南区's inherited row is not counted
    assert list(summary["total"]["counts"]) == ["missed", "off_track", "no_data", "insufficient_data", "at_risk",
                                                "on_track", "achieved"]

    by_action = {a["key"]: a for a in summary["by_action"]}
    assert sorted(by_action, key=int) == [str(n) for n in range(1, 11)]
    assert sum(a["total"] for a in by_action.values()) == targets
    assert by_action["2"]["counts"]["achieved"] == 1 and by_action["2"]["counts"]["missed"] == 0
    assert by_action["2"]["name_zh"] == "加快基础教育现代化建设"
    for key, counts in by_action.items():
        assert counts["total"] == sum(1 for r in city_rows if r["action"] == int(key))

    by_dept = {d["key"]: d for d in summary["by_department"]}
    for code, counts in by_dept.items():
        mine = [r for r in city_rows if code in r["departments"]]
        assert counts["total"] == len(mine) > 0
        for status, n in counts["counts"].items():
            assert n == sum(1 for r in mine if r["status"] == status), (code, status)
    assert by_dept["zhuangbei-xinxi"]["name_zh"] == "教育装备与信息中心"
    assert by_dept["zhuangbei-xinxi"]["counts"]["achieved"] == 1


async def target_list(client: httpx.AsyncClient, keys: Keys, code: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/indicators/{code}", headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["targets"]
    return found


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[len(BOM):].decode("utf-8"))))


async def test_csv_report(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    h = {**keys.auth(keys.bureau), "Accept": "text/csv"}
    doc = await get_report(client, keys, date="2020-03-01")
    r = await client.get(f"{API}/attainment", params={"date": "2020-03-01"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = _csv(r.content)
    header, body = table[0], table[1:]
    assert header[:3] == ["indicator", "indicator_name", "task"] and "status" in header
    assert len(body) == len(doc["rows"])
    city = next(line for line in body if line[0] == NETWORK and line[header.index("unit_code")] == CITY)
    assert city[header.index("status")] == "on_track" and city[header.index("inherited")] == "false"
    assert float(city[header.index("actual")]) == pytest.approx(1040 / 1100 * 100)
    assert city[header.index("reported")] == "2" and city[header.index("expected")] == "10"
    assert city[header.index("departments")] == "zhuangbei-xinxi jiaokeyuan"

    zh = _csv((await client.get(f"{API}/attainment", params={"date": "2020-03-01", "lang": "zh"}, headers=h)).content)
    assert zh[0][0] == "指标代码" and "状态" in zh[0] and len(zh) == len(table)
    same = await client.get(f"{API}/attainment", params={"date": "2020-03-01", "format": "csv"},
                            headers=keys.auth(keys.bureau))
    assert same.content == r.content
    filtered = _csv((await client.get(f"{API}/attainment", params={"date": "2020-03-01", "indicator": NETWORK},
                                      headers=h)).content)
    assert len(filtered) == 1 + 11


async def test_csv_summary(client: httpx.AsyncClient, keys: Keys) -> None:
    h = {**keys.auth(keys.bureau), "Accept": "text/csv"}
    doc = await _summary(client, keys, date="2021-03-01")
    r = await client.get(f"{API}/attainment/summary", params={"date": "2021-03-01"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = _csv(r.content)
    assert table[0][:4] == ["group", "key", "name", "total"] and "no_data" in table[0]
    assert len(table) == 1 + 1 + len(doc["by_action"]) + len(doc["by_department"])
    assert table[1][:2] == ["all", "all"] and int(table[1][3]) == doc["total"]["total"]
    zh = _csv((await client.get(f"{API}/attainment/summary", params={"date": "2021-03-01", "lang": "zh"},
                                headers=h)).content)
    assert zh[0][:4] == ["分组", "代码", "名称", "合计"]


async def test_etag_and_304(client: httpx.AsyncClient, keys: Keys) -> None:
    h = keys.auth(keys.bureau)
    params = {"date": "2021-03-01"}
    first = await client.get(f"{API}/attainment", params=params, headers=h)
    etag = first.headers["etag"]
    again = await client.get(f"{API}/attainment", params=params, headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    summary = await client.get(f"{API}/attainment/summary", params=params, headers=h)
    cached = await client.get(f"{API}/attainment/summary", params=params,
                              headers={**h, "If-None-Match": summary.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""

    await post_values(client, keys.admin, [value(GROSS_ENROLMENT, CITY, "2020", 99.5)])
    fresh = await client.get(f"{API}/attainment", params=params, headers={**h, "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert pick(fresh.json()["rows"], CITY, indicator=GROSS_ENROLMENT)["status"] == "achieved"


async def test_default_date_is_today(client: httpx.AsyncClient, keys: Keys) -> None:
    doc = await get_report(client, keys)
    assert doc["date"] == today_in_shanghai().isoformat()
    # Every deadline of the plan (2022 at the latest) has passed by now.
    assert all(r["deadline_passed"] for r in doc["rows"] if r["target_year"] is not None)


async def test_kept_totals_agree_with_a_recomputation(client: httpx.AsyncClient, keys: Keys) -> None:
    """The fast path (kept yearly totals, or this year's values) and the as_of path (revisions) agree."""
    for code in ("370211901", "370211902"):
        r = await client.post(f"{API}/units", json={"code": code, "name": f"学校{code}", "parent": HUANGDAO},
                              headers=keys.auth(keys.admin))
        assert r.status_code == 201, r.text
    await load_network_example(client, keys, years=(2018, 2019, 2020))
    await post_values(client, keys.huangdao, [
        rate(NETWORK, "370211901", "2019", 450, 500), rate(NETWORK, "370211902", "2020", 1, 2),
        value(OVERSIZED, "370211901", "2020S1", 5), value(OVERSIZED, "370211902", "2020S2", 3),
        value(OVERSIZED, HUANGDAO, "2019", 9), rate(PRESCHOOL, "370211901", "2021", 99, 100),
        rate(CARE_ROOM, "370211902", "2020", 3, 4),
    ])
    await post_values(client, keys.admin, [
        *(value(FUNDING, CITY, f"2021Q{q}", 9_000_000) for q in (1, 2, 3)), value(FUNDING, CITY, "2020", 30_000_000),
        *(value(PRACTICE_BASE, d, "2021", 1) for d in DISTRICTS[:4]), value(OVERSIZED, SHINAN, "2020S1", 4),
    ])
    r = await client.delete(f"{API}/measurements", params={"indicator": NETWORK, "unit": SHINAN, "period": "2019"},
                            headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    await post_values(client, keys.shinan, [rate(NETWORK, SHINAN, "2018", 70, 100)])
    everything = today_in_shanghai().isoformat()
    for day in ("2019-06-01", "2020-03-01", "2020-07-15", "2020-12-31", "2021-05-01", "2021-08-01", "2022-03-01"):
        fast = await get_report(client, keys, date=day)
        recomputed = await get_report(client, keys, date=day, as_of=everything)
        assert fast["rows"] == recomputed["rows"], day
