"""`attain simulate`: plays the ten districts' systems with SYNTHETIC values, over HTTP like real clients,
and the bureau's departments reporting on their plan deliverables: reports, progress reports with a small PDF as
evidence, and extension requests a leader decides.

Every value it posts carries the comment "synthetic (attain simulate)", every report that note. A few districts
lag: they report less progress and stop after LAG_LAST_YEAR, so dashboards and the "silent district" alert show
something. Most deliverables are done on time, a few late, a few left overdue (the "overdue" alert fires).
"""

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

CITY = "370200"
COMMENT = "synthetic (attain simulate)"
LAGGING = ("370283", "370285")
LAG_LAST_YEAR = 2021


@dataclass(frozen=True, slots=True)
class Spec:
    code: str
    unit: str
    measure: str
    direction: str
    level: str
    frequency: str
    low: float
    high: float | None
    target: float
    year: int


@dataclass
class Plan:
    """What each unit will post: unit code → rows."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, unit: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(unit, []).append({**row, "unit": unit, "comment": COMMENT})


def _path(rng: random.Random, *, start: float, goal: float, year: int, deadline: int, first: int, lag: bool) -> float:
    """A noisy line from start (first year) to goal (deadline), held a little beyond it afterwards."""
    span = max(deadline - first, 1)
    share = min((year - first) / span, 1.0 + (year - deadline) * 0.02)
    if lag:
        share *= 0.6
    return start + (goal - start) * share + rng.gauss(0, abs(goal - start) * 0.03)


def plan(specs: list[Spec], districts: list[str], years: list[int], *, seed: int = 2019) -> Plan:
    """Synthetic values for every indicator, year and reporting unit (pure; deterministic for a seed)."""
    rng = random.Random(seed)
    out = Plan()
    for s in specs:
        units = districts if s.level == "district" else [CITY]
        for unit in units:
            lag = unit in LAGGING
            sizes = rng.randint(600, 3000)
            for year in years:
                if lag and year > LAG_LAST_YEAR:
                    continue
                _one(out, rng, s, unit, year, lag=lag, size=sizes, districts=len(units), first=years[0])
    return out


def _one(out: Plan, rng: random.Random, s: Spec, unit: str, year: int, *, lag: bool, size: int,
         districts: int, first: int) -> None:
    if s.measure == "rate":
        start = max(s.target * 0.85, s.low)
        pct = _path(rng, start=start, goal=s.target + 0.6, year=year, deadline=s.year, first=first, lag=lag)
        pct = max(s.low, min(pct, s.high if s.high is not None else pct))
        if unit == CITY:
            out.add(unit, {"indicator": s.code, "period": str(year), "value": round(pct, 3)})
        else:
            num = round(size * pct / 100)
            out.add(unit, {"indicator": s.code, "period": str(year), "numerator": num, "denominator": size})
    elif s.measure == "flow":
        yearly = s.target * (1.05 if year != 2020 else 0.93) * (0.9 if lag else 1.0)
        quarters = [yearly * w for w in (0.2, 0.25, 0.25, 0.3)]
        for q, amount in enumerate(quarters, start=1):
            period = f"{year}Q{q}" if s.frequency in ("quarter", "month") else str(year)
            out.add(unit, {"indicator": s.code, "period": period, "value": round(amount)})
            if not period.endswith(f"Q{q}"):
                break
    elif s.direction == "down":
        start = 40.0 if unit != CITY else 400.0
        level = max(0.0, _path(rng, start=start, goal=s.target - 2, year=year, deadline=s.year, first=first,
                               lag=lag))
        out.add(unit, {"indicator": s.code, "period": str(year), "value": round(level)})
    else:
        goal = s.target / districts if unit != CITY else s.target
        if goal <= 1:
            value = 1.0 if (not lag and year >= s.year - 1) or rng.random() < 0.15 else 0.0
        else:
            value = max(0.0, _path(rng, start=goal * 0.5, goal=goal * 1.02, year=year, deadline=s.year,
                                   first=first, lag=lag))
        out.add(unit, {"indicator": s.code, "period": str(year), "value": round(value)})


# Of the deliverables whose deadline has passed, in code order: every LATE_EVERY-th one (from LATE_AT) is
# reported done late, every OVERDUE_EVERY-th one (from OVERDUE_AT) stays in progress; the rest are on time.
LATE_EVERY, LATE_AT, OVERDUE_EVERY, OVERDUE_AT = 8, 3, 8, 6
FIRST_DAY = date(2019, 1, 1)


Planned = tuple[str, str, dict[str, Any]]


def plan_reports(deliverables: list[dict[str, Any]], today: date, *, seed: int = 2019) -> list[Planned]:
    """(code, lead department, report body) for each deliverable (pure; deterministic for a seed)."""
    rng = random.Random(seed)
    out: list[Planned] = []
    due = 0
    for i, d in enumerate(sorted(deliverables, key=lambda d: (d["row"], d["n"]))):
        lead = d["departments"][0]
        deadline = date.fromisoformat(d["deadline"]) if d["deadline"] else None
        body: dict[str, Any] = {"state": "in_progress", "note": COMMENT}
        if deadline is not None and deadline < today:
            k, due = due, due + 1
            if k % OVERDUE_EVERY == OVERDUE_AT:
                pass  # still in progress after its deadline: overdue
            elif k % LATE_EVERY == LATE_AT:
                body = _done(deadline + timedelta(days=rng.randint(10, 200)), today, i, note=COMMENT)
            else:
                body = _done(deadline - timedelta(days=rng.randint(0, 90)), today, i, note=COMMENT)
        elif deadline is None and i % 3 == 0:
            body = _done(FIRST_DAY + timedelta(days=rng.randint(0, 1000)), today, i, note=COMMENT)
        out.append((d["code"], lead, body))
    return out


def _done(on: date, today: date, i: int, *, note: str) -> dict[str, Any]:
    on = min(on, today)
    return {"state": "done", "done_on": on.isoformat(), "document_no": f"青教发〔{on.year}〕{i + 1}号", "note": note}


async def play_departments(client: httpx.AsyncClient, admin: dict[str, str], *, seed: int, run_id: str = "",
                           made_ids: list[int] | None = None) -> dict[str, int]:
    """One key per lead department (its id added to `made_ids`); each reports on its deliverables. Returns the
    statuses today."""
    listed = (await client.get("/api/v1/deliverables", headers=admin)).raise_for_status().json()["items"]
    today = date.fromisoformat((await client.get("/api/v1/deliverables", headers=admin, params={"row": 1}))
                               .raise_for_status().json()["date"])
    tokens: dict[str, str] = {}
    for code, lead, body in plan_reports(listed, today, seed=seed):
        if lead not in tokens:
            made = (await client.post("/api/v1/keys", headers=admin, json={
                "role": "department", "department": lead, "name": f"{lead} (simulated{' ' + run_id if run_id else ''})",
            })).raise_for_status().json()
            if made_ids is not None:
                made_ids.append(made["id"])
            tokens[lead] = made["key"]
        (await client.put(f"/api/v1/deliverables/{code}/report", json=body,
                          headers={"Authorization": f"Bearer {tokens[lead]}"})).raise_for_status()
    after = (await client.get("/api/v1/deliverables", headers=admin)).raise_for_status().json()["items"]
    return dict(Counter(d["status"] for d in after))


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF saying `text` (ASCII), with a correct cross-reference table: evidence for the demo."""
    body = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("ascii", "replace")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(body), body),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# Supervision's demo: the first EXTENDED standing deliverables in progress are given a deadline (an admin's
# correction), their departments ask for an extension, a leader approves the first and rejects the second.
EXTENDED = 2


async def _key(client: httpx.AsyncClient, admin: dict[str, str], made_ids: list[int] | None,
               **body: Any) -> dict[str, str]:
    made = (await client.post("/api/v1/keys", headers=admin, json=body)).raise_for_status().json()
    if made_ids is not None:
        made_ids.append(made["id"])
    return {"Authorization": f"Bearer {made['key']}"}


async def play_supervision(client: httpx.AsyncClient, admin: dict[str, str], *, run_id: str = "",
                           made_ids: list[int] | None = None) -> dict[str, int]:
    """Progress reports with a small PDF as evidence on every deliverable still in progress, and two extension
    requests a leader decides (one approved, one rejected). Returns counts of what was recorded."""
    suffix = f" (simulated{' ' + run_id if run_id else ''})"
    listed = (await client.get("/api/v1/deliverables", headers=admin)).raise_for_status().json()
    today = date.fromisoformat(listed["date"])
    open_items = [d for d in listed["items"] if d["report"]["state"] == "in_progress"]
    chosen = [d for d in open_items if d["status"] == "standing"][:EXTENDED]
    for d in chosen:
        (await client.patch(f"/api/v1/deliverables/{d['code']}", headers=admin, json={
            "deadline": (today + timedelta(days=90)).isoformat()})).raise_for_status()
    keys: dict[str, dict[str, str]] = {}
    counts: Counter[str] = Counter()
    for d in open_items:
        lead = d["departments"][0]
        if lead not in keys:
            keys[lead] = await _key(client, admin, made_ids, role="department", department=lead,
                                    name=f"{lead} 督办{suffix}")
        pdf = tiny_pdf(f"Progress report {d['code']} - synthetic (attain simulate)")
        r = await client.post(f"/api/v1/deliverables/{d['code']}/progress", headers=keys[lead],
                              data={"summary": f"{COMMENT}: 按计划推进", "percent": "50"},
                              files=[("files", (f"{d['code']}-进展.pdf", pdf, "application/pdf"))])
        counts["progress_reports"] += r.status_code == 201
    leader = await _key(client, admin, made_ids, role="leader", name=f"督查室{suffix}")
    for i, d in enumerate(chosen):
        asked = await client.post(f"/api/v1/deliverables/{d['code']}/extensions",
                                  headers=keys[d["departments"][0]],
                                  json={"new_deadline": (today + timedelta(days=180)).isoformat(),
                                        "reason": f"{COMMENT}: 需征求相关部门意见", "progress": "初稿已完成"})
        if asked.status_code != 201:
            continue  # a second run: the deadline was already extended
        action = "approve" if i == 0 else "reject"
        decided = await client.post(f"/api/v1/extensions/{asked.json()['id']}/{action}", headers=leader,
                                    json={"note": COMMENT})
        counts["extensions_" + ("approved" if action == "approve" else "rejected")] += decided.status_code == 200
    return dict(counts)


async def specs_from(client: httpx.AsyncClient, headers: dict[str, str]) -> list[Spec]:
    """Indicators and their first target, read from the API."""
    listed = (await client.get("/api/v1/indicators", headers=headers)).raise_for_status().json()
    out = []
    for i in listed:
        detail = (await client.get(f"/api/v1/indicators/{i['code']}", headers=headers)).raise_for_status().json()
        target = detail["targets"][0] if detail["targets"] else {"value": i["max"] or 1, "year": 2022}
        out.append(Spec(code=i["code"], unit=i["unit"], measure=i["measure"], direction=i["direction"],
                        level=i["level"], frequency=i["frequency"], low=i["min"] or 0.0, high=i["max"],
                        target=float(target["value"]), year=int(target["year"] or 2022)))
    return out


class ForeignValues(RuntimeError):
    """The store holds values attain simulate did not write: it refuses to mix synthetic values into them."""


async def foreign_value(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any] | None:
    """The first current value not written by attain simulate (its comment says so), or None."""
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/measurements", params=params, headers=headers)).raise_for_status().json()
        for item in page["items"]:
            if item.get("comment") != COMMENT:
                return dict(item)
        cursor = page.get("next_cursor")
        if not cursor:
            return None


async def run(url: str, admin_key: str, *, first: int = 2018, last: int = 2025, seed: int = 2019,
              force: bool = False) -> dict[str, Any]:
    """Create one key per district (and one for the city), post each unit's synthetic values, revoke the keys.

    Refuses (ForeignValues) when the store already holds a value it did not write, unless `force`.
    """
    admin = {"Authorization": f"Bearer {admin_key}"}
    run_id = secrets.token_hex(3)  # key names are unique among active keys: each run's keys are its own
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        if not force and (found := await foreign_value(client, admin)) is not None:
            raise ForeignValues(
                f"the store holds values attain simulate did not write (e.g. {found['indicator']} / {found['unit']} "
                f"/ {found['period']}); use --force to post synthetic values beside them")
        units = (await client.get("/api/v1/units", headers=admin)).raise_for_status().json()
        districts = sorted(u["code"] for u in units if u["parent"] == CITY and u["level"] == "district")
        names = {u["code"]: u["name"] for u in units}
        specs = await specs_from(client, admin)
        work = plan(specs, districts, list(range(first, last + 1)), seed=seed)
        summary: dict[str, Any] = {}
        made_ids: list[int] = []
        try:
            for unit, rows in sorted(work.rows.items()):
                made = (await client.post("/api/v1/keys", headers=admin, json={
                    "role": "district", "unit": unit, "name": f"{names.get(unit, unit)}教体局 (simulated {run_id})",
                })).raise_for_status().json()
                made_ids.append(made["id"])
                answer = await client.post(
                    "/api/v1/measurements", json={"values": rows},
                    headers={"Authorization": f"Bearer {made['key']}", "Idempotency-Key": f"simulate-{seed}-{unit}"},
                )
                summary[unit] = {"status": answer.status_code, **answer.json().get("counts", {})}
            summary["deliverables"] = await play_departments(client, admin, seed=seed, run_id=run_id,
                                                             made_ids=made_ids)
            summary["supervision"] = await play_supervision(client, admin, run_id=run_id, made_ids=made_ids)
            from app.simulate_instructions import play_instructions  # it builds on this module's helpers

            summary["instructions"] = await play_instructions(client, admin, run_id=run_id, made_ids=made_ids)
        finally:
            for key_id in made_ids:  # demo keys must not outlive the demo
                await client.delete(f"/api/v1/keys/{key_id}", headers=admin)
        return summary
