"""`attain simulate`: plays the ten districts' systems with SYNTHETIC values, over HTTP like real clients.

Every value it posts carries the comment "synthetic (attain simulate)". A few districts lag: they report
less progress and stop after LAG_LAST_YEAR, so dashboards and the "silent district" alert show something.
"""

import random
import secrets
from dataclasses import dataclass, field
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
        finally:
            for key_id in made_ids:  # demo keys must not outlive the demo
                await client.delete(f"/api/v1/keys/{key_id}", headers=admin)
        return summary
