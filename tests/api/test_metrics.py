"""/metrics through the app: auth, families of METRICS.md, and a series count that stays bounded."""

import re

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import Keys

API = "/api/v1"
NET = "t03-campus-network-compliance"


def samples(text: str, family: str | None = None) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            if family is None or name.startswith(family):
                out[name] = float(value)
    return out


def store_series(text: str) -> set[str]:
    """Series of the store-derived families (HTTP counters grow with traffic; they are not the point here)."""
    return {n for n in samples(text) if not n.startswith(("attain_http_", "attain_scrape_collect_seconds"))}


async def post(client: httpx.AsyncClient, keys: Keys, year: int) -> None:
    body = {"period": str(year), "values": [
        {"indicator": NET, "unit": "370211", "numerator": 900 + year - 2018, "denominator": 1000},
        {"indicator": NET, "unit": "370202", "numerator": 80, "denominator": 100},
        {"indicator": "t26-rural-funding", "unit": "370200", "value": 31_000_000},
    ]}
    r = await client.post(f"{API}/measurements", json=body, headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text


async def test_metrics_need_a_scraper_bureau_or_admin_key(client: httpx.AsyncClient, keys: Keys) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=keys.auth(keys.huangdao))).status_code == 403
    for token in (keys.scraper, keys.bureau, keys.admin):
        r = await client.get("/metrics", headers=keys.auth(token))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


async def test_public_metrics_need_no_key(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_public": True}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/metrics")).status_code == 200


async def test_values_targets_and_statuses_are_exported(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, keys, 2018)
    text = (await client.get("/metrics", headers=keys.auth(keys.scraper))).text
    s = samples(text)
    city = f'attain_indicator_ratio{{indicator="{NET}",unit_code="370200",unit_name="青岛市"}}'
    assert s[city] == pytest.approx(980 / 1100)
    assert s[f'attain_target_ratio{{indicator="{NET}",kind="reach",target_year="2020",unit_code="370200"}}'] == 0.98
    money = 'attain_indicator_yuan{indicator="t26-rural-funding",unit_code="370200",unit_name="青岛市"}'
    assert s[money] == 31_000_000
    states = {k: v for k, v in s.items() if k.startswith("attain_target_status{") and f'indicator="{NET}"' in k
              and 'unit_code="370200"' in k}
    assert len(states) == 7 and sum(states.values()) == 1
    # no value yet for a silent district: its value gauge is absent, its status says no_data
    assert not any('unit_code="370203"' in k for k in s if k.startswith("attain_indicator_ratio"))
    assert s[f'attain_target_status{{attain_target_status="no_data",indicator="{NET}",kind="reach",'
             f'target_year="2020",unit_code="370203"}}'] == 1
    assert s['attain_measurements_ingested_total{outcome="created",unit_code="370211"}'] >= 1
    assert 'attain_measurements_ingested_total{outcome="rejected",unit_code="370285"}' in s
    assert re.search(r'attain_http_requests_total\{method="POST",route="/api/v1/measurements",status="200"\}', text)
    assert "attain_unit_latest_period_end_timestamp_seconds{unit_code=\"370211\"}" in s
    assert not any(re.search(r'unit_code="37\d{9}', k) for k in s), "schools are never exported"


async def test_another_year_adds_no_series(client: httpx.AsyncClient, keys: Keys) -> None:
    for year in (2018, 2019, 2020, 2021):
        await post(client, keys, year)
    before = store_series((await client.get("/metrics", headers=keys.auth(keys.scraper))).text)
    await post(client, keys, 2022)
    await post(client, keys, 2023)
    after = store_series((await client.get("/metrics", headers=keys.auth(keys.scraper))).text)
    assert after == before
