"""Helpers for the supervision tests: a deliverable with a deadline set by admin, uploads, a moved clock."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx

from app import clock
from tests.api.deliverable_helpers import API, auth

CODE = "r03-1"  # 教科院 (jiaokeyuan) is one of its departments
DEPARTMENT = "jiaokeyuan"
OTHER = "guoji"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@contextmanager
def today(day: date) -> Iterator[None]:
    """Move the service's clock to noon (Shanghai) of `day`, and back afterwards."""
    clock.set_today(day)
    try:
        yield
    finally:
        clock.set_now(None)


async def patch(client: httpx.AsyncClient, token: str, code: str = CODE, **body: Any) -> httpx.Response:
    return await client.patch(f"{API}/deliverables/{code}", headers=auth(token), json=body)


async def progress(client: httpx.AsyncClient, token: str, code: str = CODE, *, summary: str | None = "推进中",
                   files: list[tuple[str, bytes]] | None = None, headers: dict[str, str] | None = None,
                   **fields: str) -> httpx.Response:
    data = {**({"summary": summary} if summary is not None else {}), **fields}
    parts = [("files", (name, content, "application/octet-stream")) for name, content in files or []]
    return await client.post(f"{API}/deliverables/{code}/progress", headers={**auth(token), **(headers or {})},
                             data=data, files=parts or None)


async def extend(client: httpx.AsyncClient, token: str, code: str = CODE, **body: Any) -> httpx.Response:
    body = {"new_deadline": "2027-06-30", "reason": "等待会签", **body}
    return await client.post(f"{API}/deliverables/{code}/extensions", headers=auth(token), json=body)


async def decide(client: httpx.AsyncClient, token: str, extension_id: int, action: str = "approve",
                 **body: Any) -> httpx.Response:
    return await client.post(f"{API}/extensions/{extension_id}/{action}", headers=auth(token), json=body or None)


async def deliverable(client: httpx.AsyncClient, token: str, code: str = CODE, **params: str) -> dict[str, Any]:
    r = await client.get(f"{API}/deliverables/{code}", headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out
