"""`attain simulate` against a real server: it refuses a store holding values it did not write (a clerk's real
value survives untouched) unless --force, and leaves no active key of its own behind."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.reliability.procs import ROOT, Server, prepared


def _simulate(base: str, admin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTAIN_ADMIN_KEY": admin}
    return subprocess.run([sys.executable, "-m", "app.cli", "simulate", "--url", base, "--first", "2024",
                           "--last", "2025", *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


async def test_simulate_refuses_real_values_and_revokes_its_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/attain.db"
    tokens = await prepared(url, schools_per_district=0)
    server = Server(url, tmp_path)
    await server.start()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
            first = await asyncio.to_thread(_simulate, server.base, tokens["admin"])
            assert first.returncode == 0, first.stderr
            # Its own values do not stop a second run.
            again = await asyncio.to_thread(_simulate, server.base, tokens["admin"])
            assert again.returncode == 0, again.stderr
            keys = (await c.get("/api/v1/keys", headers=admin)).json()
            simulated = [k for k in keys if "(simulated" in k["name"]]
            runs = {k["name"].rsplit(" ", 1)[1] for k in simulated}
            assert len(runs) == 2 and len(simulated) >= 18, simulated  # one key per reporting unit and run
            assert not any(k["active"] for k in simulated), simulated
            clerk = {"indicator": "t14-practice-base", "unit": "370211", "period": "2019", "value": 7,
                     "comment": "黄岛区 2019 年报"}
            r = await c.post("/api/v1/measurements", json={"values": [clerk]}, headers=admin)
            assert r.status_code == 200, r.text
            before = (await c.get("/api/v1/measurements", params={"limit": 5000}, headers=admin)).json()["items"]
            refused = await asyncio.to_thread(_simulate, server.base, tokens["admin"])
            assert refused.returncode == 2 and "did not write" in refused.stderr, refused.stderr
            after = (await c.get("/api/v1/measurements", params={"limit": 5000}, headers=admin)).json()["items"]
            assert after == before
            forced = await asyncio.to_thread(_simulate, server.base, tokens["admin"], "--force")
            assert forced.returncode == 0, forced.stderr
            mine = (await c.get("/api/v1/measurements", params={"indicator": "t14-practice-base", "unit": "370211",
                                                                 "period_from": "2019", "period_to": "2019"},
                                headers=admin)).json()["items"]
            assert [(v["value"], v["comment"]) for v in mine] == [(7, "黄岛区 2019 年报")]
            keys = (await c.get("/api/v1/keys", headers=admin)).json()
            assert not any(k["active"] for k in keys if "(simulated" in k["name"])
    finally:
        server.stop()
