"""Helpers for the deliverable tests: department keys, reports, reads."""

from typing import Any

import httpx

from app.db import keys as key_store
from app.domain.keys import Role

API = "/api/v1"


async def department_key(app: Any, department: str) -> str:
    """A fresh department key bound to `department` (code, name or alias)."""
    async with app.state.sessions() as s, s.begin():
        _, token = await key_store.create_key(s, name=f"test {department}", role=Role.DEPARTMENT, unit_code=None,
                                              department=department)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def put_report(client: httpx.AsyncClient, token: str, code: str, **body: Any) -> httpx.Response:
    return await client.put(f"{API}/deliverables/{code}/report", headers=auth(token), json=body)


async def listing(client: httpx.AsyncClient, token: str, **params: str) -> dict[str, Any]:
    r = await client.get(f"{API}/deliverables", headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def status_of(client: httpx.AsyncClient, token: str, code: str, **params: str) -> str:
    r = await client.get(f"{API}/deliverables/{code}", headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def history(client: httpx.AsyncClient, token: str, code: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/deliverables/{code}/history", headers=auth(token))
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out
