"""Completeness-aware judging through HTTP (docs/ATTAINMENT.md worked examples 5 and 6, every_year with an
incomplete year, min_completeness edited by an admin) on both databases."""

from datetime import datetime, timedelta

import httpx

from tests.api.attainment_helpers import (
    API,
    CITY,
    DISTRICTS,
    NETWORK,
    PRESCHOOL,
    close,
    create_target,
    pick,
    post_values,
    rate,
    row_of,
    rows_for,
    set_indicator,
    value,
)
from tests.conftest import Keys

SEED_TEACHER = "t34-seed-teacher"
SILENT = ("370283", "370285")  # 平度市, 莱西市


async def _example_5(client: httpx.AsyncClient, keys: Keys) -> None:
    await create_target(client, keys, NETWORK, kind="reach", op=">=", value=98, year=2022)
    await post_values(client, keys.admin, [rate(NETWORK, d, "2021", 960, 1000) for d in DISTRICTS])
    await post_values(client, keys.admin, [rate(NETWORK, d, "2022", 990, 1000) for d in DISTRICTS
                                           if d not in SILENT])


async def test_example_5_silence_is_not_success(client: httpx.AsyncClient, keys: Keys) -> None:
    await _example_5(client, keys)
    rows = await rows_for(client, keys, NETWORK, date="2023-02-01")
    city = pick(rows, CITY, target_year=2022, inherited=False)
    assert city["status"] == "insufficient_data" and city["reason"] == "incomplete"
    assert city["actual"] is None and city["met"] is None
    assert city["partial"]["year"] == 2022 and round(city["partial"]["value"], 2) == 99.00
    assert city["complete"] == {"reported": 8, "expected": 10}
    silent = pick(rows, SILENT[0], target_year=2022)
    assert silent["inherited"] is True and silent["status"] == "no_data"

    await set_indicator(client, keys, NETWORK, min_completeness=0.8)
    city = pick(await rows_for(client, keys, NETWORK, date="2023-02-01"), CITY, target_year=2022, inherited=False)
    assert city["status"] == "achieved" and city["reason"] is None and city["partial"] is None
    assert close(city["actual"]["value"], 99.0) and city["actual"]["year"] == 2022
    assert city["complete"] == {"reported": 8, "expected": 10}


async def test_min_completeness_edited_by_an_admin_leaves_a_revision(client: httpx.AsyncClient, keys: Keys) -> None:
    await _example_5(client, keys)
    detail = await set_indicator(client, keys, NETWORK, min_completeness=0.8)
    assert detail["min_completeness"] == 0.8 and detail["due_days"] == 31 and len(detail["reporters"]) == 10
    r = await client.get(f"{API}/catalog/revisions", params={"entity": "indicator", "key": NETWORK},
                         headers=keys.auth(keys.bureau))
    last = r.json()[-1]
    assert last["action"] == "update" and last["key_name"] == "test admin"
    assert last["old"]["min_completeness"] == 1.0 and last["data"]["min_completeness"] == 0.8
    # A report as of before the change judges with the rule of that time.
    before = (datetime.fromisoformat(last["recorded_at"]) - timedelta(microseconds=1)).isoformat()
    old = await rows_for(client, keys, NETWORK, date="2023-02-01", as_of=before)
    assert pick(old, CITY, target_year=2022, inherited=False)["status"] == "insufficient_data"
    now = await rows_for(client, keys, NETWORK, date="2023-02-01")
    assert pick(now, CITY, target_year=2022, inherited=False)["status"] == "achieved"
    bad = await client.patch(f"{API}/indicators/{NETWORK}", json={"min_completeness": 1.5},
                             headers=keys.auth(keys.admin))
    assert bad.status_code == 422


async def test_a_reporter_removed_from_the_list_is_no_longer_expected(client: httpx.AsyncClient, keys: Keys) -> None:
    await _example_5(client, keys)
    listed = [d for d in DISTRICTS if d not in SILENT]
    r = await client.put(f"{API}/indicators/{NETWORK}/reporters", json={"units": listed},
                         headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    assert r.json()["reporters"] == sorted(listed) and r.json()["reporters_set"] is True
    city = pick(await rows_for(client, keys, NETWORK, date="2023-02-01"), CITY, target_year=2022, inherited=False)
    assert city["status"] == "achieved" and city["complete"] == {"reported": 8, "expected": 8}
    denied = await client.put(f"{API}/indicators/{NETWORK}/reporters", json={"units": listed},
                              headers=keys.auth(keys.huangdao))
    assert denied.status_code == 403
    unknown = await client.put(f"{API}/indicators/{NETWORK}/reporters", json={"units": ["370299"]},
                               headers=keys.auth(keys.admin))
    assert unknown.status_code == 422
    reset = await client.put(f"{API}/indicators/{NETWORK}/reporters", json={"units": None},
                             headers=keys.auth(keys.admin))
    assert reset.json()["reporters_set"] is False and len(reset.json()["reporters"]) == 10


async def test_example_6_standing_target(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [value(SEED_TEACHER, CITY, y, n)
                                           for y, n in (("2019", 251), ("2020", 380), ("2021", 416))])
    row = await row_of(client, keys, SEED_TEACHER, date="2022-02-01")
    assert row["target_year"] is None and row["status"] == "on_track" and row["met"] is True
    assert row["actual"] == {"value": 416, "year": 2021, "period": "2021"}
    assert [(y["year"], y["met"]) for y in row["years"]] == [(2019, False), (2020, False), (2021, True)]
    assert row["projection"] is None and row["deadline_passed"] is False and row["trend"] == "improving"
    await post_values(client, keys.admin, [value(SEED_TEACHER, CITY, "2022", 390)])
    row = await row_of(client, keys, SEED_TEACHER, date="2023-02-01")
    assert row["status"] == "off_track" and row["actual"]["value"] == 390 and row["met"] is False


async def test_every_year_with_an_incomplete_ended_year(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [rate(PRESCHOOL, d, y, 995, 1000) for d in DISTRICTS
                                           for y in ("2019", "2020")])
    # 2021: one district silent — the year is incomplete, never failed, even though the others fall short.
    await post_values(client, keys.admin, [rate(PRESCHOOL, d, "2021", 900, 1000) for d in DISTRICTS[:9]])
    row = await row_of(client, keys, PRESCHOOL, date="2022-03-01")
    assert row["status"] == "insufficient_data" and row["reason"] == "incomplete"
    years = {y["year"]: y for y in row["years"]}
    assert years[2019]["met"] is True and years[2020]["met"] is True
    assert years[2021]["incomplete"] is True and years[2021]["met"] is None and close(years[2021]["value"], 90.0)
    await post_values(client, keys.admin, [rate(PRESCHOOL, DISTRICTS[9], "2021", 900, 1000)])
    assert (await row_of(client, keys, PRESCHOOL, date="2022-03-01"))["status"] == "missed"


async def test_summary_per_unit_with_department_filter_and_completeness(client: httpx.AsyncClient, keys: Keys
                                                                        ) -> None:
    await _example_5(client, keys)
    h = keys.auth(keys.bureau)
    city = (await client.get(f"{API}/attainment/summary", params={"date": "2023-02-01"}, headers=h)).json()
    assert city["unit"] == CITY and city["completeness"]["year"] == 2022
    district = (await client.get(f"{API}/attainment/summary", params={"date": "2023-02-01", "unit": "黄岛区"},
                                 headers=h)).json()
    assert district["unit"] == "370211" and district["total"]["total"] >= 2  # its inherited NETWORK rows
    report = (await client.get(f"{API}/attainment", params={"date": "2023-02-01", "unit": "370211"},
                               headers=h)).json()["rows"]
    assert district["total"]["total"] == len(report)
    dept = (await client.get(f"{API}/attainment/summary", params={"date": "2023-02-01", "department": "装备信息中心"},
                             headers=h)).json()
    assert 0 < dept["total"]["total"] < city["total"]["total"]
    assert [d["key"] for d in dept["by_department"]] == [dept["department"]]
    bad = await client.get(f"{API}/attainment/summary", params={"department": "没有这个处"}, headers=h)
    assert bad.status_code == 422
