"""The reporting families of /metrics (METRICS.md): rates for the latest yearly period due, the same figures as
GET /completeness; open quality flags per city and district; datasets per review state."""

import httpx

from tests.api.attainment_helpers import API, DISTRICTS, HUANGDAO, NETWORK, rate
from tests.api.test_metrics import samples
from tests.conftest import Keys


async def test_reporting_quality_and_review_families(client: httpx.AsyncClient, keys: Keys) -> None:
    others = [d for d in DISTRICTS if d != HUANGDAO]
    rows = [rate(NETWORK, d, "2025", n * 10, 1000) for d, n in zip(others, [90, 91, 89, 90, 92, 88, 90, 91, 89],
                                                                   strict=True)]
    rows.append(rate(NETWORK, HUANGDAO, "2025", 500, 1000))  # a peer outlier
    r = await client.post(f"{API}/measurements", json={"values": rows}, headers=keys.auth(keys.admin))
    assert r.status_code == 200 and r.json()["warnings"], r.text
    rid = (await client.post(f"{API}/reviews", json={"unit": HUANGDAO, "year": 2025},
                             headers=keys.auth(keys.huangdao))).json()["id"]
    await client.post(f"{API}/reviews/{rid}/approve", headers=keys.auth(keys.reviewer))
    await client.post(f"{API}/reviews", json={"unit": "370202", "year": 2025}, headers=keys.auth(keys.admin))

    text = (await client.get("/metrics", headers=keys.auth(keys.scraper))).text
    completeness = (await client.get(f"{API}/completeness", params={"unit": HUANGDAO},
                                     headers=keys.auth(keys.bureau))).json()
    assert completeness["year"] == 2025
    mine = completeness["city"]
    got = samples(text, "attain_reporting_rate_ratio")
    assert got[f'attain_reporting_rate_ratio{{unit_code="{HUANGDAO}"}}'] == mine["reporting_rate"] > 0
    assert samples(text, "attain_reporting_on_time_ratio")[
        f'attain_reporting_on_time_ratio{{unit_code="{HUANGDAO}"}}'] == mine["on_time_rate"]
    assert len(got) == 11  # the city and the ten districts, never schools
    flags = samples(text, "attain_quality_flags_open")
    assert flags[f'attain_quality_flags_open{{unit_code="{HUANGDAO}"}}'] == 1
    assert flags['attain_quality_flags_open{unit_code="370200"}'] == 1
    assert flags['attain_quality_flags_open{unit_code="370202"}'] == 0
    # An open-ended (长期) target: target_year="none" (ATTAINMENT.md).
    teacher = 'attain_target_items{indicator="t34-seed-teacher",kind="reach",target_year="none",unit_code="370200"}'
    assert teacher in text
    reviews = samples(text, "attain_reviews")
    assert reviews == {'attain_reviews{state="submitted"}': 1, 'attain_reviews{state="approved"}': 1,
                       'attain_reviews{state="returned"}': 0, 'attain_reviews{state="open"}': 0}
