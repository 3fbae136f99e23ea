"""批示: who may write, answer, close and reopen; the states, the history, overdue per department."""

import asyncio
import hashlib
from datetime import date, timedelta

import httpx
import pytest

from tests.api.instruction_helpers import API, auth, department_key, frozen_day, leader_key, make_instruction
from tests.api.supervision_helpers import PDF
from tests.conftest import Keys

DAY = date(2026, 3, 2)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def _addressed(client: httpx.AsyncClient, leader: str, **kw: object) -> dict:
    r = await make_instruction(client, leader, departments=["教科院", "jijiao"], **kw)  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_who_may_write_an_instruction(client: httpx.AsyncClient, keys: Keys, app_ctx: object) -> None:
    dept = await department_key(app_ctx, "jijiao")
    may = {"admin": keys.admin, "leader": await leader_key(app_ctx)}
    may_not = {"bureau": keys.bureau, "district": keys.huangdao, "reviewer": keys.reviewer, "department": dept}
    for role, token in may.items():
        r = await make_instruction(client, token)
        assert r.status_code == 201, (role, r.text)
        assert r.json()["state"] == "open"
        assert r.json()["departments"] == ["zhuangbei-xinxi", "jiaokeyuan"]  # task 3's own, lead first
    for role, token in may_not.items():
        r = await make_instruction(client, token)
        assert r.status_code == 403, (role, r.text)
        assert r.json()["code"] == "role_cannot_instruct"
    assert (await make_instruction(client, keys.scraper)).status_code == 403
    assert (await make_instruction(client, "")).status_code == 401
    listed = (await client.get(f"{API}/instructions", headers=auth(keys.bureau))).json()["items"]
    assert len(listed) == 2


async def test_who_may_reply_close_and_reopen(client: httpx.AsyncClient, keys: Keys, app_ctx: object) -> None:
    leader = await leader_key(app_ctx)
    jijiao, jiaokeyuan, other = (await department_key(app_ctx, "jijiao"), await department_key(app_ctx, "教科院"),
                                 await department_key(app_ctx, "国际处"))
    i = (await _addressed(client, leader))["id"]
    reply = f"{API}/instructions/{i}/replies"
    r = await client.post(reply, headers=auth(other), json={"text": "已知悉"})
    assert (r.status_code, r.json()["code"]) == (403, "not_addressed")
    for token in (leader, keys.bureau, keys.huangdao, keys.reviewer):
        r = await client.post(reply, headers=auth(token), json={"text": "已知悉"})
        assert (r.status_code, r.json()["code"]) == (403, "role_cannot_reply"), r.text
    r = await client.post(reply, headers=auth(keys.admin), json={"text": "代为反馈"})
    assert (r.status_code, r.json()["code"]) == (422, "department_required")
    r = await client.post(reply, headers=auth(keys.admin), json={"text": "代为反馈", "department": "基教处"})
    assert r.status_code == 201 and r.json()["answered_departments"] == ["jijiao"]
    assert r.json()["state"] == "open"
    for token in (jijiao, jiaokeyuan, other, keys.bureau, keys.reviewer):
        for action in ("close", "reopen"):
            r = await client.post(f"{API}/instructions/{i}/{action}", headers=auth(token), json={})
            assert (r.status_code, r.json()["code"]) == (403, "role_cannot_instruct"), (action, r.text)
    r = await client.post(reply, headers=auth(jiaokeyuan), json={"text": "已完成指导意见起草"})
    assert r.status_code == 201 and r.json()["state"] == "answered"
    r = await client.post(f"{API}/instructions/{i}/close", headers=auth(leader), json={"note": "办结"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    r = await client.post(f"{API}/instructions/{i}/reopen", headers=auth(keys.admin), json={})
    assert r.status_code == 200 and r.json()["state"] == "open"


async def test_answered_closed_reopened_with_history(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader = await leader_key(app_ctx, "王局长")
    jijiao, jiaokeyuan = await department_key(app_ctx, "jijiao"), await department_key(app_ctx, "jiaokeyuan")
    with frozen_day(DAY):
        i = (await _addressed(client, leader, respond_by="2026-03-10"))["id"]
        url = f"{API}/instructions/{i}"
        assert (await client.post(f"{url}/replies", headers=auth(jijiao), json={"text": "一"})).json()["state"] \
            == "open"
        assert (await client.post(f"{url}/replies", headers=auth(jijiao), json={"text": "二"})).json()["state"] \
            == "open"  # one department twice is not everyone
        assert (await client.post(f"{url}/replies", headers=auth(jiaokeyuan), json={"text": "三"})).json()["state"] \
            == "answered"
        closed = await client.post(f"{url}/close", headers=auth(leader), json={"note": "同意"})
        assert closed.json()["state"] == "closed"
        late = await client.post(f"{url}/replies", headers=auth(jijiao), json={"text": "补充"})
        assert (late.status_code, late.json()["code"]) == (409, "instruction_closed")
        again = await client.post(f"{url}/close", headers=auth(leader), json={})
        assert (again.status_code, again.json()["code"]) == (409, "instruction_state")
        past = await client.post(f"{url}/reopen", headers=auth(leader), json={"respond_by": "2026-03-01"})
        assert (past.status_code, past.json()["code"]) == (422, "respond_by_past")
        reopened = (await client.post(f"{url}/reopen", headers=auth(leader),
                                      json={"respond_by": "2026-03-20", "note": "请补充数据"})).json()
        assert reopened["state"] == "open" and reopened["respond_by"] == "2026-03-20"
        assert reopened["answered_departments"] == []  # counted again from the reopening
        assert (await client.post(f"{url}/replies", headers=auth(jiaokeyuan), json={"text": "四"})).json()["state"] \
            == "open"
        done = (await client.get(url, headers=auth(jijiao))).json()
    assert [(e["action"], e["state"]) for e in done["history"]] == [
        ("open", "open"), ("answer", "answered"), ("close", "closed"), ("reopen", "open")]
    assert {e["key_name"] for e in done["history"]} == {"王局长", "test jiaokeyuan"}
    assert [r["text"] for r in done["replies"]] == ["一", "二", "三", "四"]
    assert done["history"][2]["note"] == "同意"


async def test_overdue_is_per_department_and_judged_on_the_day(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader = await leader_key(app_ctx)
    jijiao = await department_key(app_ctx, "jijiao")
    with frozen_day(DAY):
        i = (await _addressed(client, leader, respond_by="2026-03-05"))["id"]
        await client.post(f"{API}/instructions/{i}/replies", headers=auth(jijiao), json={"text": "已部署"})
        url = f"{API}/instructions/{i}"
        on_day = (await client.get(url, headers=auth(leader), params={"date": "2026-03-05"})).json()
        after = (await client.get(url, headers=auth(leader), params={"date": "2026-03-06"})).json()
    assert (on_day["overdue"], on_day["overdue_departments"]) == (False, [])
    assert (after["overdue"], after["overdue_departments"]) == (True, ["jiaokeyuan"])
    with frozen_day(DAY + timedelta(days=10)):
        listed = (await client.get(f"{API}/instructions", headers=auth(leader),
                                   params={"overdue": "true", "department": "教科院"})).json()["items"]
        assert [x["id"] for x in listed] == [i]
        assert (await client.get(f"{API}/instructions", headers=auth(leader),
                                 params={"overdue": "true", "department": "jijiao"})).json()["items"][0][
            "overdue_departments"] == ["jiaokeyuan"]
        await client.post(f"{url}/close", headers=auth(leader), json={})
        assert (await client.get(url, headers=auth(leader))).json()["overdue"] is False


async def test_a_past_as_of_sees_the_state_then(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader = await leader_key(app_ctx)
    jijiao, jiaokeyuan = await department_key(app_ctx, "jijiao"), await department_key(app_ctx, "jiaokeyuan")
    with frozen_day(DAY):
        i = (await _addressed(client, leader))["id"]
    with frozen_day(DAY + timedelta(days=1)):
        await client.post(f"{API}/instructions/{i}/replies", headers=auth(jijiao), json={"text": "一"})
        await client.post(f"{API}/instructions/{i}/replies", headers=auth(jiaokeyuan), json={"text": "二"})
    then = (await client.get(f"{API}/instructions/{i}", headers=auth(leader),
                             params={"as_of": "2026-03-02"})).json()
    assert (then["state"], then["answered_departments"]) == ("open", [])
    assert (await client.get(f"{API}/instructions/{i}", headers=auth(leader))).json()["state"] == "answered"
    before = await client.get(f"{API}/instructions", headers=auth(leader), params={"as_of": "2026-03-01"})
    assert before.json()["items"] == []
    by_state = await client.get(f"{API}/instructions", headers=auth(leader),
                                params={"as_of": "2026-03-02", "state": "open"})
    assert [x["id"] for x in by_state.json()["items"]] == [i]


@pytest.mark.parametrize("body,code", [
    ({"target": {"kind": "task", "code": "99"}, "text": "x"}, "unknown_target"),
    ({"target": {"kind": "deliverable", "code": "r99-1"}, "text": "x"}, "unknown_target"),
    ({"target": {"kind": "indicator", "code": "t03-nothing"}, "text": "x"}, "unknown_target"),
    ({"target": {"kind": "task", "code": "3"}, "text": "x", "departments": ["宣传处"]}, "unknown_department"),
    ({"target": {"kind": "task", "code": "3"}, "text": "x", "respond_by": "2026-03-01"}, "respond_by_past"),
])
async def test_bad_instructions_are_refused_and_store_nothing(client: httpx.AsyncClient, app_ctx: object,
                                                              body: dict, code: str) -> None:
    leader = await leader_key(app_ctx)
    with frozen_day(DAY):
        r = await client.post(f"{API}/instructions", headers=auth(leader), json=body)
    assert (r.status_code, r.json()["code"]) == (422, code), r.text
    assert (await client.get(f"{API}/instructions", headers=auth(leader))).json()["items"] == []


@pytest.mark.parametrize("text", ["长" * 2001, "", "bad\x00text", "bell\x07"])
async def test_text_over_its_limits_or_with_controls_is_refused(client: httpx.AsyncClient, app_ctx: object,
                                                                text: str) -> None:
    leader = await leader_key(app_ctx)
    r = await make_instruction(client, leader, text=text)
    assert r.status_code == 422, r.text
    i = (await make_instruction(client, leader))
    dept = await department_key(app_ctx, "zhuangbei-xinxi")
    r = await client.post(f"{API}/instructions/{i.json()['id']}/replies", headers=auth(dept), json={"text": text})
    assert r.status_code == 422
    assert (await client.get(f"{API}/instructions/{i.json()['id']}", headers=auth(leader))).json()["replies"] == []


async def test_an_idempotency_key_writes_once(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader = await leader_key(app_ctx)
    first = await make_instruction(client, leader, headers={"Idempotency-Key": "pishi-1"})
    again = await make_instruction(client, leader, headers={"Idempotency-Key": "pishi-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == first.json()["id"]
    other = await make_instruction(client, leader, text="另一条", headers={"Idempotency-Key": "pishi-1"})
    assert other.status_code == 422
    assert len((await client.get(f"{API}/instructions", headers=auth(leader))).json()["items"]) == 1


async def test_filters_by_target_and_unknown_ids(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader = await leader_key(app_ctx)
    await make_instruction(client, leader)
    d = (await make_instruction(client, leader, kind="deliverable", code="r03-1")).json()
    assert d["departments"] == ["jiaokeyuan", "jijiao"]
    found = await client.get(f"{API}/instructions", headers=auth(leader), params={"target": "deliverable:r03-1"})
    assert [x["id"] for x in found.json()["items"]] == [d["id"]]
    bad = await client.get(f"{API}/instructions", headers=auth(leader), params={"target": "r03-1"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_target")
    missing = await client.get(f"{API}/instructions/999", headers=auth(leader))
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_instruction")
    r = await client.post(f"{API}/instructions/999/close", headers=auth(leader), json={})
    assert r.status_code == 404


async def test_concurrent_replies_and_a_close_keep_one_history(client: httpx.AsyncClient, app_ctx: object,
                                                               backend: str) -> None:
    leader = await leader_key(app_ctx)
    jijiao, jiaokeyuan = await department_key(app_ctx, "jijiao"), await department_key(app_ctx, "jiaokeyuan")
    for _round in range(4):
        i = (await _addressed(client, leader))["id"]
        url = f"{API}/instructions/{i}"
        answers = await asyncio.gather(
            client.post(f"{url}/replies", headers=auth(jijiao), json={"text": "a"}),
            client.post(f"{url}/replies", headers=auth(jiaokeyuan), json={"text": "b"}),
            client.post(f"{url}/close", headers=auth(leader), json={}),
            client.post(f"{url}/close", headers=auth(leader), json={}),
        )
        codes = sorted(r.status_code for r in answers)
        assert 500 not in codes, [r.text for r in answers]
        done = (await client.get(url, headers=auth(leader))).json()
        actions = [e["action"] for e in done["history"]]
        assert actions.count("close") == 1, actions  # exactly one close won
        assert sum(1 for r in answers[2:] if r.status_code == 409) == 1
        # answered only when both replies came before the close, and then exactly once, before it
        replied = [r for r in answers[:2] if r.status_code == 201]
        assert actions.count("answer") == (1 if len(replied) == 2 else 0)
        assert len(done["replies"]) == len(replied)
        assert actions[-1] == "close" and done["state"] == "closed"


async def test_metrics_count_pairs_per_department_state_and_overdue(client: httpx.AsyncClient, keys: Keys,
                                                                    app_ctx: object) -> None:
    leader, jijiao = await leader_key(app_ctx), await department_key(app_ctx, "jijiao")
    with frozen_day(DAY):
        i = (await _addressed(client, leader, respond_by="2026-03-03"))["id"]
        await client.post(f"{API}/instructions/{i}/replies", headers=auth(jijiao), json={"text": "已部署"})
    with frozen_day(DAY + timedelta(days=2)):
        text = (await client.get("/metrics", headers=auth(keys.scraper))).text
    assert 'attain_instructions{department="jiaokeyuan",overdue="true",state="open"} 1.0' in text
    assert 'attain_instructions{department="jijiao",overdue="false",state="open"} 1.0' in text
    assert 'attain_instructions{department="guoji",overdue="false",state="closed"} 0.0' in text


@pytest.mark.parametrize("kind,code", [("deliverable", "r04-1"), ("task", "5")])
async def test_an_overdue_instruction_turns_the_deliverable_red(client: httpx.AsyncClient, app_ctx: object,
                                                                kind: str, code: str) -> None:
    leader = await leader_key(app_ctx)
    dept = await department_key(app_ctx, "jiaokeyuan")
    url = f"{API}/deliverables/r04-1"  # long-term (长期): standing, grey while nothing is due

    async def light(day: str) -> str:
        return str((await client.get(url, headers=auth(leader), params={"date": day})).json()["light"])

    with frozen_day(DAY):
        i = (await make_instruction(client, leader, kind=kind, code=code, departments=["jiaokeyuan"],
                                    respond_by="2026-03-04")).json()["id"]
        assert await light("2026-03-04") == "grey"
        assert await light("2026-03-05") == "red"
        listed = (await client.get(f"{API}/deliverables", headers=auth(leader),
                                   params={"date": "2026-03-05", "task": "5"})).json()["items"]
        assert {d["code"]: d["light"] for d in listed}["r04-1"] == "red"
        # answered in time: nobody is overdue, the light goes back
        await client.post(f"{API}/instructions/{i}/replies", headers=auth(dept), json={"text": "已出台"})
        assert await light("2026-03-05") == "grey"


async def test_a_reply_with_evidence_files(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader, dept = await leader_key(app_ctx), await department_key(app_ctx, "jiaokeyuan")
    i = (await make_instruction(client, leader, departments=["jiaokeyuan"])).json()["id"]
    url = f"{API}/instructions/{i}/replies"
    files = [("files", ("落实情况.pdf", PDF, "application/pdf")), ("files", ("照片.png", PNG, "image/png"))]
    r = await client.post(url, headers={**auth(dept), "Idempotency-Key": "reply-1"}, data={"text": "已落实，附佐证"},
                          files=files)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "answered"
    (got,) = r.json()["replies"]
    assert [(f["name"], f["type"], f["size"]) for f in got["files"]] == [("落实情况.pdf", "pdf", len(PDF)),
                                                                         ("照片.png", "png", len(PNG))]
    assert got["files"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    again = await client.post(url, headers={**auth(dept), "Idempotency-Key": "reply-1"},
                              data={"text": "已落实，附佐证"}, files=files)
    assert again.headers.get("Idempotent-Replayed") == "true"
    download = await client.get(got["files"][0]["url"], headers=auth(leader))
    assert download.content == PDF and download.headers["x-content-type-options"] == "nosniff"
    shown = (await client.get(f"{API}/instructions/{i}", headers=auth(leader))).json()
    assert len(shown["replies"]) == 1 and shown["replies"][0]["files"] == got["files"]


async def test_a_reply_with_a_disguised_file_stores_nothing(client: httpx.AsyncClient, app_ctx: object) -> None:
    leader, dept = await leader_key(app_ctx), await department_key(app_ctx, "jiaokeyuan")
    i = (await make_instruction(client, leader, departments=["jiaokeyuan"])).json()["id"]
    url = f"{API}/instructions/{i}/replies"
    r = await client.post(url, headers=auth(dept), data={"text": "见附件"},
                          files=[("files", ("a.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"))])
    assert (r.status_code, r.json()["code"]) == (415, "file_type")
    r = await client.post(url, headers=auth(dept), data={"text": "x" * 2001})
    assert r.status_code == 422
    r = await client.post(url, headers=auth(dept), data={}, files=[("files", ("a.pdf", PDF, "application/pdf"))])
    assert r.status_code == 422
    r = await client.post(url, headers=auth(dept), data={"text": "太多"},
                          files=[("files", (f"{n}.pdf", PDF, "application/pdf")) for n in range(11)])
    assert (r.status_code, r.json()["code"]) == (422, "too_many_files")
    shown = (await client.get(f"{API}/instructions/{i}", headers=auth(leader))).json()
    assert shown["replies"] == [] and shown["state"] == "open"


@pytest.mark.parametrize("kind,code", [("indicator", "t03-campus-network-compliance"), ("task", "3")])
async def test_an_overdue_instruction_turns_the_target_rows_red(client: httpx.AsyncClient, app_ctx: object,
                                                                kind: str, code: str) -> None:
    leader = await leader_key(app_ctx)

    async def lights(day: str) -> set[str]:
        r = await client.get(f"{API}/attainment", headers=auth(leader),
                             params={"date": day, "indicator": "t03-campus-network-compliance"})
        assert r.status_code == 200, r.text
        return {row["light"] for row in r.json()["rows"]}

    with frozen_day(DAY):
        await make_instruction(client, leader, kind=kind, code=code, departments=["jiaokeyuan"],
                               respond_by="2026-03-04")
        assert "red" not in await lights("2026-03-04")
        assert await lights("2026-03-05") == {"red"}
