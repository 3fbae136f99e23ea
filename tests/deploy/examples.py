"""The worked examples of ATTAINMENT.md (plus one target that is off track today), loaded over HTTP."""

from typing import Any

import httpx

API = "/api/v1"
X, Z = "370211", "370202"
DISTRICTS = ("370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285")
OFF_TRACK = {"indicator": "t09-sister-schools", "unit": "370200", "year": 2030}


def _values() -> list[dict[str, Any]]:
    net = "t03-campus-network-compliance"
    rows: list[dict[str, Any]] = []
    for year, (xn, zn) in {2018: (900, 80), 2019: (950, 90), 2020: (990, 95)}.items():
        rows += [{"indicator": net, "unit": X, "period": str(year), "numerator": xn, "denominator": 1000},
                 {"indicator": net, "unit": Z, "period": str(year), "numerator": zn, "denominator": 100}]
    rows += [{"indicator": "t23-oversized-classes", "unit": "370200", "period": str(y), "value": v}
             for y, v in ((2017, 120), (2019, 30), (2020, 4))]
    funding = "t26-rural-funding"
    rows += [{"indicator": funding, "unit": "370200", "period": "2018", "value": 32_000_000},
             {"indicator": funding, "unit": "370200", "period": "2019", "value": 30_500_000}]
    rows += [{"indicator": funding, "unit": "370200", "period": f"2020Q{q}", "value": 7_000_000} for q in range(1, 5)]
    base = "t14-practice-base"
    for d in DISTRICTS[:7]:
        rows.append({"indicator": base, "unit": d, "period": "2020", "value": 1})
    for d in DISTRICTS[7:9]:
        rows += [{"indicator": base, "unit": d, "period": p, "value": 0} for p in ("2019", "2020")]
    rows += [{"indicator": OFF_TRACK["indicator"], "unit": "370200", "period": str(y), "value": v}
             for y, v in ((2023, 100), (2024, 105), (2025, 110))]
    return rows


# Deliverable reports: r03-1 done on its deadline, r03-2 a day late (both due 2019-11-30); every other
# deliverable with a passed deadline stays unreported, so it is overdue today.
REPORTS = {"r03-1": {"state": "done", "done_on": "2019-11-30"}, "r03-2": {"state": "done", "done_on": "2019-12-01"}}


def load_reports(client: httpx.Client, admin_key: str) -> None:
    """Report on two deliverables as 教科院 does (a department key made over HTTP)."""
    h = {"Authorization": f"Bearer {admin_key}"}
    made = client.post(f"{API}/keys", headers=h, json={"role": "department", "department": "教科院", "name": "教科院"})
    assert made.status_code == 201, made.text
    for code, body in REPORTS.items():
        r = client.put(f"{API}/deliverables/{code}/report", json=body,
                       headers={"Authorization": f"Bearer {made.json()['key']}"})
        assert r.status_code == 200, r.text


def load(client: httpx.Client, admin_key: str) -> None:
    """Post the examples' values and add the off-track target."""
    h = {"Authorization": f"Bearer {admin_key}"}
    # Worked example 1 (amended): two districts of ten are enough for this indicator.
    r = client.patch(f"{API}/indicators/t03-campus-network-compliance", headers=h, json={"min_completeness": 0.2})
    assert r.status_code == 200, r.text
    r = client.post(f"{API}/indicators/{OFF_TRACK['indicator']}/targets", headers=h,
                    json={"unit": OFF_TRACK["unit"], "kind": "reach", "op": ">=", "value": 500,
                          "year": OFF_TRACK["year"]})
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/measurements", headers=h, json={"values": _values()})
    assert r.status_code == 200 and r.json()["counts"]["rejected"] == 0, r.text
