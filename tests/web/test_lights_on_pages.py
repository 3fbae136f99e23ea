"""The leaders' pages show each target row's and deliverable's light, the same the API gives."""

import re

import httpx

from tests.conftest import Keys
from tests.web.test_session import sign_in


async def test_department_page_shows_the_apis_lights(client: httpx.AsyncClient, keys: Keys) -> None:
    assert (await sign_in(client, keys.bureau, "/departments/jiaokeyuan")).status_code == 303
    page = (await client.get("/departments/jiaokeyuan")).text
    shown = dict(re.findall(r'data-deliverable="([^"]+)".*?data-light="(\w+)"', page, re.S))
    api = (await client.get("/api/v1/deliverables", params={"department": "jiaokeyuan"},
                            headers=keys.auth(keys.bureau))).json()["items"]
    assert shown and shown == {d["code"]: d["light"] for d in api}
    rows = re.findall(r'<tr class="[^"]*" data-target="(\d+)" data-unit="(\d+)".*?data-light="(\w+)"', page, re.S)
    targets = (await client.get("/api/v1/attainment", params={"department": "jiaokeyuan"},
                                headers=keys.auth(keys.bureau))).json()["rows"]
    by_row = {(str(r["target_id"]), r["unit_code"]): r["light"] for r in targets}
    assert rows and all(by_row[(t, u)] == light for t, u, light in rows)
    assert 'aria-label="红灯"' in page
