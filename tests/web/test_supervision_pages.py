"""The desk and the attention page over HTTP: forms carry the session's CSRF token, refusals are shown and
store nothing, and each flow ends where the API says it does."""

import re
from datetime import date

import httpx

from tests.api.instruction_helpers import API, auth, department_key, frozen_day, leader_key
from tests.api.supervision_helpers import PDF, patch
from tests.conftest import Keys
from tests.web.test_session import sign_in


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


async def _signed_in(app_ctx: object, key: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app_ctx),  # type: ignore[arg-type]
                               base_url="http://attain.test")
    assert (await sign_in(client, key, "/desk")).status_code == 303
    return client


async def test_a_progress_report_with_a_pdf_from_the_desk(app_ctx: object, client: httpx.AsyncClient) -> None:
    dept = await department_key(app_ctx, "jiaokeyuan")
    web = await _signed_in(app_ctx, dept)
    try:
        page = await web.get("/desk")
        assert page.status_code == 200 and "教科院 · 工作台" in page.text and 'data-deliverable="r03-1"' in page.text
        token = _csrf(page.text)
        bad = await web.post("/desk/deliverables/r03-1/progress", data={"summary": "已起草", "csrf": "forged"},
                             files=[("files", ("a.pdf", PDF, "application/pdf"))])
        assert bad.status_code == 403 and 'data-code="csrf_failed"' in bad.text
        html = await web.post("/desk/deliverables/r03-1/progress", data={"summary": "附件", "csrf": token},
                              files=[("files", ("a.pdf", b"<html></html>", "application/pdf"))])
        assert html.status_code == 415 and 'data-code="file_type"' in html.text
        assert (await client.get(f"{API}/deliverables/r03-1/progress", headers=auth(dept))).json() == []
        done = await web.post("/desk/deliverables/r03-1/progress", data={"summary": "已完成初稿", "csrf": token},
                              files=[("files", ("初稿.pdf", PDF, "application/pdf"))])
        assert done.status_code == 303 and done.headers["location"] == "/desk?done=progress#d-r03-1"
        page = await web.get("/desk?done=progress")
        assert "进展报告已报送。" in page.text and "初稿.pdf" in page.text
        file_id = re.search(r'href="/desk/files/(\d+)"', page.text)
        assert file_id
        got = await web.get(f"/desk/files/{file_id.group(1)}")
        assert got.content == PDF and got.headers["content-disposition"].startswith("attachment")
    finally:
        await web.aclose()


async def test_a_leader_writes_the_department_answers_the_leader_closes(app_ctx: object,
                                                                        client: httpx.AsyncClient) -> None:
    leader_token, dept_token = await leader_key(app_ctx), await department_key(app_ctx, "jiaokeyuan")
    leader, dept = await _signed_in(app_ctx, leader_token), await _signed_in(app_ctx, dept_token)
    try:
        page = await leader.get("/attention")
        assert page.status_code == 200 and "需关注" in page.text
        r = await leader.post("/attention/instructions", data={
            "csrf": _csrf(page.text), "kind": "deliverable", "code": "r03-1", "text": "请加快出台指导意见",
            "departments": "教科院", "respond_by": ""})
        assert r.status_code == 303, r.text
        (made,) = (await client.get(f"{API}/instructions", headers=auth(leader_token))).json()["items"]
        desk = await dept.get("/desk")
        assert f'data-instruction="{made["id"]}"' in desk.text and "请加快出台指导意见" in desk.text
        r = await dept.post(f"/desk/instructions/{made['id']}/replies", data={"csrf": _csrf(desk.text),
                                                                             "text": "已报局务会审议"})
        assert r.status_code == 303
        assert (await client.get(f"{API}/instructions/{made['id']}", headers=auth(dept_token))).json()["state"] \
            == "answered"
        denied = await dept.post(f"/attention/instructions/{made['id']}/close", data={"csrf": _csrf(desk.text)})
        assert denied.status_code == 403  # a department does not close
        page = await leader.get("/attention")
        r = await leader.post(f"/attention/instructions/{made['id']}/close", data={"csrf": _csrf(page.text),
                                                                                  "note": "同意"})
        assert r.status_code == 303
        shown = (await client.get(f"{API}/instructions/{made['id']}", headers=auth(leader_token))).json()
        assert shown["state"] == "closed" and [e["action"] for e in shown["history"]] == ["open", "answer", "close"]
    finally:
        await leader.aclose()
        await dept.aclose()


async def test_an_extension_approved_from_the_attention_page(app_ctx: object, client: httpx.AsyncClient,
                                                             keys: Keys) -> None:
    leader_token, dept_token = await leader_key(app_ctx), await department_key(app_ctx, "jiaokeyuan")
    with frozen_day(date(2026, 3, 2)):
        assert (await patch(client, keys.admin, "r03-1", deadline="2026-03-31")).status_code == 200
        leader, dept = await _signed_in(app_ctx, leader_token), await _signed_in(app_ctx, dept_token)
        try:
            desk = await dept.get("/desk")
            r = await dept.post("/desk/deliverables/r03-1/extensions", data={
                "csrf": _csrf(desk.text), "new_deadline": "2026-06-30", "reason": "需征求各区意见"})
            assert r.status_code == 303, r.text
            before = (await client.get(f"{API}/deliverables/r03-1", headers=auth(leader_token))).json()
            page = await leader.get("/attention")
            (ext_id,) = re.findall(r'data-extension="(\d+)"', page.text)
            r = await leader.post(f"/attention/extensions/{ext_id}/approve", data={"csrf": _csrf(page.text)})
            assert r.status_code == 303
            again = await leader.post(f"/attention/extensions/{ext_id}/approve", data={"csrf": _csrf(page.text)})
            assert again.status_code == 409 and 'data-code="review_state"' in again.text
            after = (await client.get(f"{API}/deliverables/r03-1", headers=auth(leader_token))).json()
        finally:
            await leader.aclose()
            await dept.aclose()
    assert before["light"] == "yellow" and before["status"] == "due_soon"  # an extension pending
    # 2026-06-30 is more than 60 days away and nothing is due from it yet
    assert (after["status"], after["light"]) == ("not_due", "grey")
