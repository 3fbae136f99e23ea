"""Supervision over HTTP on both databases: who may do what, progress reports with evidence files, extension
requests and their decisions, the admin's correction, statuses and lights with the clock moved."""

import hashlib
from datetime import date
from typing import Any

import httpx

from app.db import keys as key_store
from app.domain.keys import Role
from tests.api.deliverable_helpers import API, auth, department_key, history
from tests.api.supervision_helpers import (
    CODE,
    DEPARTMENT,
    OTHER,
    PDF,
    PNG,
    decide,
    deliverable,
    extend,
    patch,
    progress,
    today,
)
from tests.conftest import Keys


async def leader_key(app: Any) -> str:
    async with app.state.sessions() as s, s.begin():
        _, token = await key_store.create_key(s, name="test 督查室", role=Role.LEADER, unit_code=None)
    return token


async def test_role_matrix_of_every_new_route(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    mine, other, leader = (await department_key(app_ctx, DEPARTMENT), await department_key(app_ctx, OTHER),
                           await leader_key(app_ctx))
    assert (await patch(client, keys.admin, deadline="2027-03-31")).status_code == 200
    with today(date(2027, 1, 10)):
        # PATCH: admin only.
        for token in (mine, leader, keys.bureau, keys.reviewer, keys.huangdao):
            assert (await patch(client, token, progress_days=10)).status_code == 403
        # Progress: its departments and admin; another department, other roles 403; scraper 403 too.
        for token, code in ((other, "other_department"), (leader, "role_cannot_report"),
                            (keys.huangdao, "role_cannot_report"), (keys.reviewer, "role_cannot_report")):
            r = await progress(client, token, files=[("a.pdf", PDF)])
            assert (r.status_code, r.json()["code"]) == (403, code)
        assert (await progress(client, keys.scraper)).status_code == 403
        assert (await progress(client, mine, files=[("a.pdf", PDF)])).status_code == 201
        assert (await progress(client, keys.admin)).status_code == 201
        # Extensions: asked by its departments or admin, decided by a leader or admin.
        for token in (other, leader, keys.bureau):
            assert (await extend(client, token)).status_code == 403
        asked = await extend(client, mine)
        assert asked.status_code == 201, asked.text
        ext = asked.json()["id"]
        for token in (mine, other, keys.bureau, keys.reviewer, keys.huangdao):
            r = await decide(client, token, ext)
            assert (r.status_code, r.json()["code"]) == (403, "role_cannot_decide")
        assert (await decide(client, leader, ext)).status_code == 200
        # Reads: every reading role; the scraper none.
        for token in (mine, other, leader, keys.bureau, keys.reviewer, keys.huangdao, keys.admin):
            for path in (f"/deliverables/{CODE}/progress", "/extensions", "/files/1"):
                assert (await client.get(API + path, headers=auth(token))).status_code == 200, (path, token)
        for path in (f"/deliverables/{CODE}/progress", "/extensions", "/files/1"):
            assert (await client.get(API + path, headers=auth(keys.scraper))).status_code == 403
            assert (await client.get(API + path)).status_code == 401


async def test_upload_list_download_byte_identical(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    mine = await department_key(app_ctx, DEPARTMENT)
    r = await progress(client, mine, summary="初稿完成，征求意见中", percent="60", next_steps="提交局务会",
                       expected_done_on="2027-02-28", files=[("../进展报告.pdf", PDF), ("现场.png", PNG)])
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(f["name"], f["type"], f["size"]) for f in body["files"]] == [("进展报告.pdf", "pdf", len(PDF)),
                                                                          ("现场.png", "png", len(PNG))]
    assert body["files"][0]["sha256"] == hashlib.sha256(PDF).hexdigest() and body["percent"] == 60
    later = await progress(client, mine, summary="更正：进度为 50%", percent="50")
    listed = (await client.get(f"{API}/deliverables/{CODE}/progress", headers=auth(keys.bureau))).json()
    assert [p["id"] for p in listed] == [later.json()["id"], body["id"]]  # newest first; the first one untouched
    assert listed[1]["summary"] == "初稿完成，征求意见中" and len(listed[1]["files"]) == 2
    for f, content in zip(listed[1]["files"], (PDF, PNG), strict=True):
        got = await client.get(f["url"], headers=auth(keys.bureau))
        assert got.status_code == 200 and got.content == content
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("attachment;")
    assert (await client.get(f"{API}/files/999999", headers=auth(keys.bureau))).json()["code"] == "unknown_file"


async def test_bad_uploads_store_nothing(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    mine = await department_key(app_ctx, DEPARTMENT)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"files": [("x.pdf", b"<html><body>hi</body></html>")]}, 415, "file_type"),
        ({"files": [("setup.pdf", b"MZ\x90\x00" + b"\0" * 100)]}, 415, "file_type"),
        ({"files": [("ok.pdf", PDF), ("bad.pdf", PDF + b"<script>alert(1)</script>")]}, 415, "file_type"),
        ({"files": [(f"{i}.pdf", PDF) for i in range(11)]}, 422, "too_many_files"),
        ({"summary": None, "files": [("a.pdf", PDF)]}, 422, "missing_summary"),
        ({"summary": "x" * 2001}, 422, "summary_too_long"),
        ({"summary": "a\x00b"}, 422, "control_characters"),
        ({"percent": "101"}, 422, "bad_percent"),
        ({"expected_done_on": "2027-02-30"}, 422, "bad_date"),
    ]
    for kwargs, status, code in cases:
        r = await progress(client, mine, **kwargs)
        assert (r.status_code, r.json().get("code")) == (status, code), (kwargs.keys(), r.text[:300])
    r = await client.post(f"{API}/deliverables/{CODE}/progress", headers=auth(mine), json={"summary": "x"})
    assert r.status_code == 415
    assert (await client.get(f"{API}/deliverables/{CODE}/progress", headers=auth(mine))).json() == []
    assert (await client.get(f"{API}/files/1", headers=auth(mine))).status_code == 404


async def test_a_file_over_the_limit_is_refused_before_the_body_is_read(app_ctx: Any, client: httpx.AsyncClient,
                                                                         keys: Keys) -> None:
    mine = await department_key(app_ctx, DEPARTMENT)
    sent = 0

    async def body() -> Any:
        nonlocal sent
        yield (b"--b\r\nContent-Disposition: form-data; name=\"summary\"\r\n\r\nx\r\n--b\r\n"
               b"Content-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n\r\n%PDF-")
        for _ in range(30 * 16):  # 30 MiB in 64 KiB chunks, if all were read
            sent += 1
            yield b"\0" * 65536
        yield b"\r\n--b--\r\n"

    r = await client.post(f"{API}/deliverables/{CODE}/progress", content=body(),
                          headers={**auth(mine), "Content-Type": "multipart/form-data; boundary=b"})
    assert (r.status_code, r.json()["code"]) == (413, "file_too_large")
    assert sent < 30 * 16  # the rest was never read
    declared = await client.post(f"{API}/deliverables/{CODE}/progress", content=b"--b--\r\n",
                                 headers={**auth(mine), "Content-Type": "multipart/form-data; boundary=b",
                                          "Content-Length": str(101 * 1024 * 1024)})
    assert (declared.status_code, declared.json()["code"]) == (413, "file_too_large")


async def test_progress_idempotency_ignores_the_boundary(app_ctx: Any, client: httpx.AsyncClient,
                                                         keys: Keys) -> None:
    mine = await department_key(app_ctx, DEPARTMENT)
    first = await progress(client, mine, files=[("a.pdf", PDF)], headers={"Idempotency-Key": "p-1"})
    again = await progress(client, mine, files=[("a.pdf", PDF)], headers={"Idempotency-Key": "p-1"})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await progress(client, mine, files=[("a.pdf", PDF + b"\n")], headers={"Idempotency-Key": "p-1"})
    assert other.status_code == 422
    assert len((await client.get(f"{API}/deliverables/{CODE}/progress", headers=auth(mine))).json()) == 1


async def test_extension_lifecycle_statuses_and_lights(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    mine, leader = await department_key(app_ctx, DEPARTMENT), await leader_key(app_ctx)
    # Every seed deadline is past: one request is too late, and a correction moves the deadline.
    with today(date(2027, 1, 10)):
        assert (await extend(client, mine)).json()["code"] == "too_late"
        r = await patch(client, keys.admin, deadline="2027-03-31", progress_days=20, progress_from="2027-01-01")
        assert r.status_code == 200 and r.json()["fields"] == ["deadline", "progress_days", "progress_from"]
        assert (await patch(client, keys.admin, deadline="2027-03-31")).json()["changed"] is False
        assert (await extend(client, mine, new_deadline="2027-03-31")).json()["code"] == "deadline_not_later"
        assert (await extend(client, mine, new_deadline="2100-01-01")).json()["code"] in ("date_out_of_range",
                                                                                         "bad_date")
        assert (await extend(client, mine, reason="")).json()["code"] == "missing_reason"
        first = await extend(client, mine, new_deadline="2027-06-30", progress="初稿已完成")
        assert first.status_code == 201 and first.json()["state"] == "pending"
        assert (await extend(client, mine, new_deadline="2027-07-31")).json()["code"] == "extension_pending"
        d = await deliverable(client, keys.bureau)
        assert d["extension_pending"] and d["light"] == "yellow" and d["status"] == "not_due"
        rejected = await decide(client, leader, first.json()["id"], "reject", note="理由不充分")
        assert rejected.json()["state"] == "rejected"
        assert (await decide(client, leader, first.json()["id"])).json()["code"] == "review_state"
        second = await extend(client, mine, new_deadline="2027-06-30")
        assert (await decide(client, keys.admin, second.json()["id"], note="同意")).json()["state"] == "approved"
        approved_at = (await client.get(f"{API}/extensions", headers=auth(keys.bureau),
                                        params={"state": "approved", "department": "教科院"})).json()
        assert [x["id"] for x in approved_at] == [second.json()["id"]]
        assert (await client.get(f"{API}/extensions", headers=auth(keys.bureau),
                                 params={"department": OTHER})).json() == []
    # The day of and after the original and the extended deadline: past the original one, not overdue.
    for day, status in ((date(2027, 3, 31), "not_due"), (date(2027, 4, 1), "not_due"), (date(2027, 5, 1), "due_soon"),
                        (date(2027, 6, 30), "due_soon"), (date(2027, 7, 1), "overdue")):
        with today(day):
            d = await deliverable(client, keys.bureau)
            assert (d["status"], d["effective_deadline"]) == (status, "2027-06-30"), day
    with today(date(2027, 7, 1)):
        assert (await deliverable(client, keys.bureau))["light"] == "red"
        assert (await extend(client, mine, new_deadline="2027-12-31")).json()["code"] == "too_late"
    with today(date(2027, 5, 10)):
        r = await client.put(f"{API}/deliverables/{CODE}/report", headers=auth(mine),
                             json={"state": "done", "done_on": "2027-04-01"})
        assert r.status_code == 200
        d = await deliverable(client, keys.bureau)
        assert (d["status"], d["light"]) == ("done_after_extension", "yellow")
        assert (await extend(client, mine, new_deadline="2027-12-31")).json()["code"] == "not_extendable"
        # On a date before the extension was approved, as known before it: the original deadline counts.
        early = await deliverable(client, keys.bureau, date="2027-04-02", as_of="2027-01-09T12:00:00+08:00")
        assert (early["status"], early["effective_deadline"]) == ("overdue", "2019-11-30")  # the seed's deadline
        steps = await history(client, keys.bureau, CODE)
        kinds = [(h["kind"], h.get("action")) for h in steps]
        assert ("edit", None) in kinds and ("extension", "approve") in kinds and ("report", None) in kinds
        edit = next(h for h in steps if h["kind"] == "edit")
        assert edit["changes"]["deadline"] == "2027-03-31"
        summary = (await client.get(f"{API}/plan/summary", headers=auth(keys.bureau))).json()
        assert summary["total"]["counts"]["done_after_extension"] == 1


async def test_progress_report_due_edges(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    mine = await department_key(app_ctx, DEPARTMENT)
    with today(date(2027, 1, 2)):
        r = await patch(client, keys.admin, deadline="2027-12-31", progress_days=14, progress_from="2027-01-01")
        assert r.status_code == 200, r.text
    with today(date(2027, 1, 15)):  # just inside 14 days from progress_from
        d = await deliverable(client, keys.bureau)
        assert (d["progress_overdue"], d["progress_due_on"], d["light"]) == (False, "2027-01-15", "grey")
    with today(date(2027, 1, 16)):  # just outside
        d = await deliverable(client, keys.bureau)
        assert (d["progress_overdue"], d["light"]) == (True, "yellow")
        assert (await progress(client, mine)).status_code == 201
        d = await deliverable(client, keys.bureau)
        assert (d["progress_overdue"], d["last_progress_on"], d["progress_due_on"]) == (False, "2027-01-16",
                                                                                         "2027-01-30")
        # Judged on the day before, as known before the report: still overdue.
        d = await deliverable(client, keys.bureau, date="2027-01-16", as_of="2027-01-16T11:00:00+08:00")
        assert d["progress_overdue"] is True
    with today(date(2027, 1, 31)):
        assert (await deliverable(client, keys.bureau))["progress_overdue"] is True


async def test_patch_refusals(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    for body, code in (({"deadline": "2027-13-01"}, "bad_date"), ({"departments": []}, "bad_departments"),
                       ({"departments": ["不存在处"]}, "unknown_department"),
                       ({"progress_days": 0}, "bad_progress_days"),
                       ({"title": " "}, "missing_title"), ({"colour": "red"}, "bad_patch"), ({}, "bad_patch")):
        r = await patch(client, keys.admin, **body)
        assert (r.status_code, r.json()["code"]) == (422, code), body
    r = await patch(client, keys.admin, departments=["国际处"], title="新标题")
    assert r.status_code == 200 and r.json()["deliverable"]["departments"] == ["guoji"]
    # The departments now named may report; the former ones may not.
    assert (await progress(client, await department_key(app_ctx, OTHER))).status_code == 201
    assert (await progress(client, await department_key(app_ctx, DEPARTMENT))).status_code == 403
    assert (await client.patch(f"{API}/deliverables/r99-9", headers=auth(keys.admin),
                               json={"title": "x"})).status_code == 404


async def test_every_target_and_deliverable_row_carries_its_light(client: httpx.AsyncClient, keys: Keys) -> None:
    expected = {"missed": "red", "off_track": "red", "at_risk": "yellow", "no_data": "grey",
                "insufficient_data": "grey", "on_track": "green", "achieved": "green"}
    rows = (await client.get(f"{API}/attainment", headers=auth(keys.bureau))).json()["rows"]
    assert rows and all(r["light"] == expected[r["status"]] for r in rows)
    zh = await client.get(f"{API}/attainment", headers=auth(keys.bureau), params={"format": "csv", "lang": "zh"})
    header, first = zh.content.decode("utf-8-sig").splitlines()[:2]
    assert "红黄绿灯" in header.split(",") and "灰灯" in first.split(",")
    items = (await client.get(f"{API}/deliverables", headers=auth(keys.bureau))).json()["items"]
    # Every seed deadline has passed: overdue ones are red, standing ones grey.
    assert {d["light"] for d in items if d["status"] == "overdue"} == {"red"}
    assert {d["light"] for d in items if d["status"] == "standing"} == {"grey"}
    csv_zh = await client.get(f"{API}/deliverables", headers=auth(keys.bureau), params={"format": "csv", "lang": "zh"})
    assert "红黄绿灯" in csv_zh.content.decode("utf-8-sig").splitlines()[0]
