"""Every string parameter of every operation (path, query, and each string field of a JSON body) gets NUL and
other control, format and bidi characters, on both databases: the answer is never a 5xx, and a 4xx is a
problem document. (Schemathesis draws such strings at random; this sweep sends each of them everywhere once.)"""

import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.helpers import lenient_client
from tests.conftest import Keys

HOSTILE = ["\x00", "a\x00b", "\x07\x1b\x7f", "x\ny", "\u202e\u200b", "\ufeff"]
PLAIN = {"code": "t14-practice-base", "key_id": "999999", "target_id": "999999", "number": "3"}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" or any(o.get("type") == "string" for o in schema.get("anyOf", []))


def _sample(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return _sample(doc, next(o for o in schema["anyOf"] if o.get("type") != "null"))
    if "enum" in schema:
        return schema["enum"][-1]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    return {"string": "t14-x", "integer": 2020, "number": 1.0, "boolean": False, "array": [],
            "object": {}}.get(schema.get("type", "string"), "x")


def _cases(doc: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path template, spoiled name, request parts) for every string parameter and body field."""
    out = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            params = op.get("parameters", [])
            base_query = {p["name"]: _sample(doc, p["schema"]) for p in params
                          if p["in"] == "query" and p.get("required")}
            path_values = {p["name"]: PLAIN.get(p["name"], "x") for p in params if p["in"] == "path"}
            body_schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
            base_body = None
            if body_schema is not None:
                resolved = _resolve(doc, body_schema)
                base_body = {n: _sample(doc, s) for n, s in resolved.get("properties", {}).items()
                             if n in resolved.get("required", [])}
            for p in params:
                if p["in"] in ("query", "path") and _is_string(_resolve(doc, p["schema"])):
                    out.append((method, path, f"{p['in']}.{p['name']}",
                                {"query": base_query, "path": path_values, "body": base_body}))
            if body_schema is not None:
                for name, s in _resolve(doc, body_schema).get("properties", {}).items():
                    if _is_string(_resolve(doc, s)):
                        out.append((method, path, f"body.{name}",
                                    {"query": base_query, "path": path_values, "body": base_body}))
    return out


def _request(method: str, path: str, spoiled: str, parts: dict[str, Any], text: str) -> dict[str, Any]:
    where, name = spoiled.split(".", 1)
    query, values, body = dict(parts["query"]), dict(parts["path"]), parts["body"]
    if where == "query":
        query[name] = text
    elif where == "path":
        values[name] = text
    else:
        body = {**(body or {}), name: text}
    url = re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), path)
    return {"method": method.upper(), "url": url, "params": query, "json": body}


async def test_hostile_text_in_every_string_parameter_is_never_a_5xx(app_ctx: Any, keys: Keys) -> None:
    doc = app_ctx.openapi()  # type: ignore[attr-defined]
    cases = _cases(doc)
    assert len(cases) > 40, [c[:3] for c in cases]
    failures = []
    async with lenient_client(app_ctx) as client:
        for method, path, spoiled, parts in cases:
            if (method, path) == ("delete", "/api/v1/keys/{key_id}"):
                continue  # an id, not text; and the admin key must survive the sweep
            for text in HOSTILE:
                req = _request(method, path, spoiled, parts, text)
                r = await client.request(**req, headers=keys.auth(keys.admin))
                if r.status_code >= 500 or (r.status_code >= 400 and not r.headers.get(
                        "content-type", "").startswith("application/problem+json")):
                    failures.append(f"{method.upper()} {path} {spoiled}={text!r}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("text", HOSTILE, ids=repr)
async def test_hostile_query_text_is_refused_before_any_route(
    client: httpx.AsyncClient, keys: Keys, text: str
) -> None:
    r = await client.get("/api/v1/catalog/revisions", params={"key": text}, headers=keys.auth(keys.bureau))
    expected = 400 if re.search(r"[\x00-\x1f\x7f]", text) else 200
    assert r.status_code == expected, r.text
