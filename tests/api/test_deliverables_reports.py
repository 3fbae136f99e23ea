"""Reports on deliverables: status on a date and as of an instant, who may report, bad input, races."""

import asyncio
from datetime import timedelta

import httpx
import pytest

from app.domain.periods import today_in_shanghai
from tests.api.deliverable_helpers import API, auth, department_key, history, put_report, status_of
from tests.api.helpers import assert_problem
from tests.conftest import Keys

R03 = "r03-1"  # 出台《青岛市中小学幼儿园校本课程建设与实施指导意见》, 2019-11-30, 教科院、基教处


async def test_status_edges_through_the_api(client: httpx.AsyncClient, keys: Keys) -> None:
    a = keys.bureau
    assert await status_of(client, a, R03, date="2019-10-01") == "due_soon"  # 60 days before
    assert await status_of(client, a, R03, date="2019-09-30") == "not_due"  # 61 days before
    assert await status_of(client, a, R03, date="2019-11-30") == "due_soon"
    assert await status_of(client, a, R03, date="2019-12-01") == "overdue"  # the day after, no report
    assert (await put_report(client, keys.admin, R03, state="done", done_on="2019-11-30")).status_code == 200
    assert await status_of(client, a, R03, date="2019-11-30") == "done_on_time"  # done on the deadline day
    assert await status_of(client, a, R03, date="2019-11-29") == "due_soon"  # before done_on: not yet done
    assert (await put_report(client, keys.admin, R03, state="done", done_on="2019-12-01")).status_code == 200
    assert await status_of(client, a, R03, date="2019-12-01") == "done_late"  # a day after
    assert await status_of(client, a, R03, date="2019-11-30") == "due_soon"
    # 长期 without a date: standing, or done once reported
    assert await status_of(client, a, "r04-1", date="2030-01-01") == "standing"
    assert (await put_report(client, keys.admin, "r04-1", state="done", done_on="2020-06-01")).status_code == 200
    assert await status_of(client, a, "r04-1", date="2030-01-01") == "done"
    assert await status_of(client, a, "r04-1", date="2020-05-31") == "standing"


async def test_a_past_as_of_shows_the_status_before_a_report(client: httpx.AsyncClient, keys: Keys) -> None:
    first = await put_report(client, keys.admin, R03, state="in_progress", note="起草中")
    assert first.status_code == 200
    (before,) = await history(client, keys.admin, R03)
    second = await put_report(client, keys.admin, R03, state="done", done_on="2019-11-25",
                              document_no="青教发〔2019〕9号")
    assert second.status_code == 200 and second.json()["deliverable"]["status"] == "done_on_time"
    at = before["recorded_at"]
    assert await status_of(client, keys.bureau, R03, date="2019-12-31", as_of=at) == "overdue"
    assert await status_of(client, keys.bureau, R03, date="2019-12-31") == "done_on_time"
    # before any report at all: the catalog as seeded, nothing reported
    r = await client.get(f"{API}/deliverables/{R03}", headers=auth(keys.bureau),
                         params={"date": "2019-12-31", "as_of": "2020-01-01"})
    assert r.json()["report"]["state"] == "planned" and r.json()["status"] == "overdue"
    revisions = await history(client, keys.admin, R03)
    assert [(v["old_state"], v["state"]) for v in revisions] == [(None, "in_progress"), ("in_progress", "done")]
    assert revisions[1]["document_no"] == "青教发〔2019〕9号" and revisions[1]["key_name"] == "test admin"


async def test_a_resend_adds_no_revision(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"state": "done", "done_on": "2019-11-25", "url": "https://edu.qingdao.gov.cn/a.html"}
    assert (await put_report(client, keys.admin, R03, **body)).json()["changed"] is True
    again = await put_report(client, keys.admin, R03, **body)
    assert again.status_code == 200 and again.json() | {"deliverable": None} == {
        "changed": False, "revision_id": None, "deliverable": None}
    assert len(await history(client, keys.admin, R03)) == 1


ROLES = ("admin", "bureau", "reviewer", "city", "scraper", "jijiao", "jiaokeyuan")


@pytest.mark.parametrize("role", ROLES)
async def test_authorization_matrix(client: httpx.AsyncClient, keys: Keys, app_ctx: object, role: str) -> None:
    tokens = {"admin": keys.admin, "bureau": keys.bureau, "reviewer": keys.reviewer, "city": keys.city,
              "scraper": keys.scraper,
              "jijiao": await department_key(app_ctx, "基教处"), "jiaokeyuan": await department_key(app_ctx, "教科院")}
    token = tokens[role]
    body = {"state": "in_progress"}
    # r01-1 lists 基教处、相关处室; r02-1 lists 装备信息中心、教科院 (no 基教处); r03-1 lists 教科院、基教处
    may = {"admin": {"r01-1", "r02-1", "r03-1"}, "jijiao": {"r01-1", "r03-1"}, "jiaokeyuan": {"r02-1", "r03-1"}}
    for code in ("r01-1", "r02-1", "r03-1"):
        r = await put_report(client, token, code, **body)
        if code in may.get(role, set()):
            assert r.status_code == 200, (role, code, r.text)
            assert len(await history(client, keys.admin, code)) == 1
        else:
            doc = assert_problem(r, 403)
            assert doc["code"] == ("other_department" if role in may else "role_cannot_report"), doc
            assert await history(client, keys.admin, code) == []
    read = await client.get(f"{API}/deliverables", headers=auth(token))
    assert read.status_code == (403 if role == "scraper" else 200)
    summary = await client.get(f"{API}/plan/summary", headers=auth(token))
    assert summary.status_code == (403 if role == "scraper" else 200)


async def test_a_refusal_names_the_departments(client: httpx.AsyncClient, app_ctx: object) -> None:
    token = await department_key(app_ctx, "基教处")
    r = await client.put(f"{API}/deliverables/r02-1/report", json={"state": "in_progress"},
                         headers={**auth(token), "Accept-Language": "zh"})
    doc = assert_problem(r, 403)
    assert doc["code"] == "other_department"
    assert "教育装备与信息中心、教科院" in doc["detail"] and "基教处" in doc["detail"]


async def test_no_key_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.put(f"{API}/deliverables/r01-1/report", json={"state": "done"}), 401)
    assert_problem(await client.get(f"{API}/deliverables"), 401)


async def test_a_department_key_cannot_submit_values(client: httpx.AsyncClient, app_ctx: object) -> None:
    token = await department_key(app_ctx, "jijiao")
    r = await client.post(f"{API}/measurements", headers=auth(token),
                          json={"unit": "370200", "period": "2020", "values": [
                              {"indicator": "t09-sister-schools", "value": 1}]})
    assert_problem(r, 403)


def _tomorrow() -> str:
    return (today_in_shanghai() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(("body", "code"), [
    ({"state": "finished"}, "unknown_state"),
    ({"state": "done"}, "done_needs_date"),
    ({"state": "done", "done_on": "TOMORROW"}, "future_date"),
    ({"state": "done", "done_on": "2019-11-31"}, "bad_date"),
    ({"state": "done", "done_on": "2019-11-20", "url": "ftp://edu.qingdao.gov.cn/x.pdf"}, "bad_url"),
    ({"state": "done", "done_on": "2019-11-20", "url": "javascript:alert(1)"}, "bad_url"),
    ({"state": "in_progress", "note": "长" * 10_000}, "note_too_long"),
    ({"state": "dropped"}, "dropped_needs_note"),
    ({}, "missing_state"),
])
async def test_bad_reports_are_refused_and_store_nothing(client: httpx.AsyncClient, keys: Keys,
                                                         body: dict[str, str], code: str) -> None:
    if body.get("done_on") == "TOMORROW":
        body = {**body, "done_on": _tomorrow()}
    doc = assert_problem(await put_report(client, keys.admin, R03, **body), 422)
    assert doc["code"] == code and doc["errors"][0]["code"] == code
    assert await history(client, keys.admin, R03) == []
    r = await client.get(f"{API}/deliverables/{R03}", headers=auth(keys.admin))
    assert r.json()["report"]["state"] == "planned" and r.json()["report"]["reported_at"] is None


async def test_unknown_deliverable_and_malformed_requests(client: httpx.AsyncClient, keys: Keys) -> None:
    assert assert_problem(await put_report(client, keys.admin, "r99-1", state="planned"), 404)["code"] == \
        "unknown_deliverable"
    assert_problem(await client.get(f"{API}/deliverables/r99-1/history", headers=auth(keys.admin)), 404)
    assert_problem(await client.get(f"{API}/deliverables/DROP TABLE", headers=auth(keys.admin)), 422)
    assert_problem(await put_report(client, keys.admin, R03, state="planned", extra=1), 422)
    r = await client.put(f"{API}/deliverables/{R03}/report", headers={**auth(keys.admin), "Content-Type":
                         "application/json"}, content=b"{not json")
    assert 400 <= r.status_code < 500
    assert_problem(await client.get(f"{API}/deliverables", headers=auth(keys.admin), params={"status": "late"}), 422)
    assert_problem(await client.get(f"{API}/deliverables", headers=auth(keys.admin), params={"date": "2019-13-01"}),
                   422)
    assert_problem(await client.get(f"{API}/deliverables", headers=auth(keys.admin),
                                    params={"department": "宣传处"}), 422)
    assert await history(client, keys.admin, R03) == []


async def test_concurrent_reports_keep_one_revision_per_change(client: httpx.AsyncClient, keys: Keys) -> None:
    notes = [f"第{i}稿" for i in range(8)]
    answers = await asyncio.gather(*(put_report(client, keys.admin, R03, state="in_progress", note=n)
                                     for n in notes))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    revisions = await history(client, keys.admin, R03)
    assert sorted(v["note"] for v in revisions) == sorted(notes)
    # the chain is unbroken: each revision's old state is the previous one's, and the current report is the last
    assert [v["old_state"] for v in revisions] == [None] + ["in_progress"] * 7
    current = (await client.get(f"{API}/deliverables/{R03}", headers=auth(keys.admin))).json()["report"]
    assert current["note"] == revisions[-1]["note"]
    # the same report sent five times at once is one change
    same = await asyncio.gather(*(put_report(client, keys.admin, "r04-1", state="done", done_on="2020-01-02")
                                  for _ in range(5)))
    assert sorted(a.json()["changed"] for a in same) == [False] * 4 + [True]
    assert len(await history(client, keys.admin, "r04-1")) == 1
