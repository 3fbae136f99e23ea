"""`attain simulate`'s 批示: a leader instructs on a few deliverables still in progress, their lead departments
answer most of them (the first with a small PDF as evidence), the leader closes one; one is left unanswered with
today as its respond-by date, so it turns overdue tomorrow."""

from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx

from app.simulate import COMMENT, _key, tiny_pdf

INSTRUCTED = 4  # 批示 written per run; the last stays unanswered


async def play_instructions(client: httpx.AsyncClient, admin: dict[str, str], *, run_id: str = "",
                            made_ids: list[int] | None = None) -> dict[str, int]:
    """Write, answer and close 批示 over HTTP; returns counts of what was recorded."""
    suffix = f" (simulated{' ' + run_id if run_id else ''})"
    listed = (await client.get("/api/v1/deliverables", headers=admin)).raise_for_status().json()
    today = date.fromisoformat(listed["date"])
    chosen = [d for d in listed["items"] if d["report"]["state"] == "in_progress" and d["departments"]][:INSTRUCTED]
    leader = await _key(client, admin, made_ids, role="leader", name=f"局领导 批示{suffix}")
    keys: dict[str, dict[str, str]] = {}
    counts: Counter[str] = Counter()
    for i, d in enumerate(chosen):
        last = i == len(chosen) - 1
        lead = d["departments"][0]
        made = await client.post("/api/v1/instructions", headers=leader, json={
            "target": {"kind": "deliverable", "code": d["code"]}, "departments": [lead],
            "text": f"{COMMENT}: 请{lead}抓紧推进“{d['title'][:40]}”，按期反馈进展。",
            "respond_by": (today if last else today + timedelta(days=7)).isoformat()})
        if made.status_code != 201:
            continue
        counts["instructions"] += 1
        if last:
            continue  # left for the department: overdue from tomorrow
        if lead not in keys:
            keys[lead] = await _key(client, admin, made_ids, role="department", department=lead,
                                    name=f"{lead} 批示反馈{suffix}")
        url = f"/api/v1/instructions/{made.json()['id']}/replies"
        body: dict[str, Any] = {"data": {"text": f"{COMMENT}: 已部署落实，详见附件。"}}
        if i == 0:
            pdf = tiny_pdf(f"Reply to instruction {made.json()['id']} - synthetic (attain simulate)")
            body["files"] = [("files", (f"{d['code']}-批示反馈.pdf", pdf, "application/pdf"))]
        replied = await client.post(url, headers=keys[lead], **body)
        counts["replies"] += replied.status_code == 201
        if i == 0 and replied.status_code == 201:
            closed = await client.post(f"/api/v1/instructions/{made.json()['id']}/close", headers=leader,
                                       json={"note": COMMENT})
            counts["closed"] += closed.status_code == 200
    return dict(counts)
