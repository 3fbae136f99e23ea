"""`promtool check metrics` on a real scrape prints nothing: every family of METRICS.md passes Prometheus' lint."""

import shutil
import subprocess

import httpx

from tests.api.attainment_helpers import API, FUNDING, NETWORK, PRACTICE_BASE, rate, value
from tests.conftest import Keys


async def test_a_seeded_scrape_passes_promtool(client: httpx.AsyncClient, keys: Keys) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (apt-get install prometheus)"
    rows = [rate(NETWORK, "370211", "2025", 900, 1000), value(PRACTICE_BASE, "370211", "2025", 3),
            value(PRACTICE_BASE, "370200", "2025", 12), value(FUNDING, "370200", "2025", 31_000_000)]
    r = await client.post(f"{API}/measurements", json={"values": rows}, headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    text = (await client.get("/metrics", headers=keys.auth(keys.scraper))).text
    # Every kind of family is in the scrape: counted things, ratios, money, targets, states.
    for family in ("attain_indicator_items{", "attain_indicator_ratio{", "attain_indicator_yuan{",
                   "attain_target_items{", "attain_target_status{", "attain_http_requests_total{"):
        assert family in text, family
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    findings = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not findings, findings
