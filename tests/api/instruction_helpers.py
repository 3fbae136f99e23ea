"""Helpers for the 批示 and scorecard tests: keys of every role, writing and reading instructions."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx

from app import clock
from app.db import keys as key_store
from app.domain.keys import Role
from tests.api.deliverable_helpers import API, auth, department_key

__all__ = ["API", "auth", "department_key", "frozen_day", "leader_key", "make_instruction"]


async def leader_key(app: Any, name: str = "test leader") -> str:
    async with app.state.sessions() as s, s.begin():
        _, token = await key_store.create_key(s, name=name, role=Role.LEADER, unit_code=None)
    return token


@contextmanager
def frozen_day(day: date) -> Iterator[None]:
    """The service's clock at noon of `day` (Shanghai) for the block; put back after."""
    clock.set_today(day)
    try:
        yield
    finally:
        clock.set_now(None)


async def make_instruction(client: httpx.AsyncClient, token: str, *, kind: str = "task", code: str = "3",
                           departments: list[str] | None = None, respond_by: str | None = None,
                           text: str = "请抓紧推进并反馈进展。", headers: dict[str, str] | None = None
                           ) -> httpx.Response:
    body: dict[str, Any] = {"target": {"kind": kind, "code": code}, "text": text}
    if departments is not None:
        body["departments"] = departments
    if respond_by is not None:
        body["respond_by"] = respond_by
    return await client.post(f"{API}/instructions", headers={**auth(token), **(headers or {})}, json=body)
