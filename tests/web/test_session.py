"""Signing in to the leaders' page: a key once, then a signed cookie; CSRF, forgery, expiry, revocation, escaping."""

import asyncio
import base64
import hashlib
import io
import re
import zipfile

import httpx
import pytest

from app.db.archive import export_store
from app.main import create_app
from app.settings import Settings
from tests.conftest import Keys

API = "/api/v1"


async def _form(client: httpx.AsyncClient) -> str:
    page = await client.get("/signin")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, next_path: str = "/") -> httpx.Response:
    token = await _form(client)
    return await client.post("/signin", data={"key": key, "csrf": token, "next": next_path})


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.get("/indicators/t03-campus-network-compliance?date=2021-03-01")
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=/indicators/t03-campus-network-compliance%3Fdate%3D2021-03-01"
    # A key in the URL opens nothing: pages take keys only through the sign-in form.
    r = await client.get("/", params={"key": keys.admin, "api_key": keys.admin})
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


async def test_signing_in_sets_a_strict_httponly_cookie_for_eight_hours(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await sign_in(client, keys.bureau, "/districts/370211")
    assert r.status_code == 303 and r.headers["location"] == "/districts/370211"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("attain_session="))
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")}
    assert "httponly" in attrs and attrs["samesite"].lower() == "samesite=strict"
    assert attrs["max-age"] == "Max-Age=28800" and attrs["path"] == "Path=/"
    assert "secure" not in attrs  # plain HTTP here; see the HTTPS test
    assert keys.bureau not in cookie  # the key itself never reaches the browser
    page = await client.get("/districts/370211")
    assert page.status_code == 200 and "黄岛区" in page.text and page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_the_cookie_is_secure_behind_https(app_ctx: object, keys: Keys) -> None:
    transport = httpx.ASGITransport(app=app_ctx)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://attain.test") as c:
        r = await sign_in(c, keys.admin)
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("attain_session="))
        assert "Secure" in cookie


async def test_wrong_key_scraper_key_and_missing_csrf_token_open_no_session(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await sign_in(client, "attain_deadbeef_not-a-key")
    assert r.status_code == 401 and 'data-code="unauthorized"' in r.text and "密钥无效" in r.text
    r = await sign_in(client, keys.scraper)
    assert r.status_code == 403 and 'data-code="forbidden"' in r.text
    await _form(client)
    r = await client.post("/signin", data={"key": keys.admin, "csrf": "forged", "next": "/"})
    assert r.status_code == 403 and 'data-code="csrf_failed"' in r.text
    # A cross-site form post carries no sign-in cookie at all (SameSite=Strict): refused the same way.
    client.cookies.clear()
    r = await client.post("/signin", data={"key": keys.admin, "csrf": "x", "next": "/"})
    assert r.status_code == 403
    assert not any(c.startswith("attain_session=") for c in r.headers.get_list("set-cookie"))
    assert (await client.get("/")).status_code == 303


async def test_next_never_leaves_the_site(client: httpx.AsyncClient, keys: Keys) -> None:
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = await sign_in(client, keys.admin, evil)
        assert r.headers["location"] == "/", evil


async def test_a_forged_or_expired_cookie_is_refused(settings: Settings, keys: Keys) -> None:
    app = create_app(settings.model_copy(update={"session_hours": 1 / 3600}))  # one second
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://attain.test") as c:
            await sign_in(c, keys.admin)
            good = c.cookies["attain_session"]
            assert (await c.get("/")).status_code == 200
            c.cookies.set("attain_session", good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
            r = await c.get("/")
            assert r.status_code == 303 and 'attain_session=""' in r.headers["set-cookie"]
            c.cookies.set("attain_session", good)
            await asyncio.sleep(2.2)
            r = await c.get("/")
            assert r.status_code == 303 and r.headers["location"].startswith("/signin")


async def test_revoking_the_key_ends_its_sessions_at_the_next_request(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = keys.auth(keys.admin)
    listed = (await client.get(f"{API}/keys", headers=admin)).json()
    bureau = next(k for k in listed if k["name"] == "test bureau")
    await sign_in(client, keys.bureau)
    assert (await client.get("/")).status_code == 200
    assert (await client.delete(f"{API}/keys/{bureau['id']}", headers=admin)).status_code == 204
    r = await client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


async def test_rotating_the_key_out_ends_its_sessions(settings: Settings, keys: Keys) -> None:
    app = create_app(settings.model_copy(update={"key_rotation_grace_hours": 0}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://attain.test") as c:
            admin = keys.auth(keys.admin)
            bureau = next(k for k in (await c.get(f"{API}/keys", headers=admin)).json() if k["name"] == "test bureau")
            await sign_in(c, keys.bureau)
            assert (await c.get("/")).status_code == 200
            new = await c.post(f"{API}/keys/{bureau['id']}/rotate", headers=admin)
            assert new.status_code == 201, new.text
            r = await c.get("/")
            assert r.status_code == 303 and r.headers["location"].startswith("/signin")
            await sign_in(c, new.json()["key"])  # the new key signs in
            assert (await c.get("/")).status_code == 200


async def test_the_json_api_ignores_the_session_cookie(client: httpx.AsyncClient, keys: Keys) -> None:
    await sign_in(client, keys.admin)
    assert (await client.get("/")).status_code == 200
    r = await client.get(f"{API}/attainment/summary")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


async def test_sign_out_needs_the_session_token(client: httpx.AsyncClient, keys: Keys) -> None:
    await sign_in(client, keys.admin)
    page = (await client.get("/")).text
    token = re.search(r'action="/signout">.*?name="csrf" value="([^"]+)"', page, re.S)
    assert token
    await client.post("/signout", data={"csrf": "wrong"})
    assert (await client.get("/")).status_code == 200
    r = await client.post("/signout", data={"csrf": token.group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert (await client.get("/")).status_code == 303


async def test_a_signed_out_cookie_is_dead_here_and_in_every_other_worker(settings: Settings, keys: Keys) -> None:
    first, second = create_app(settings), create_app(settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a.test") as a:
            await sign_in(a, keys.bureau)
            copied = a.cookies["attain_session"]
            page = (await a.get("/")).text
            token = re.search(r'action="/signout">.*?name="csrf" value="([^"]+)"', page, re.S)
            assert token
            assert (await a.post("/signout", data={"csrf": token.group(1)})).status_code == 303
        for app in (first, second):  # the same worker, and another one on the same database
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a.test") as replay:
                replay.cookies.set("attain_session", copied)
                r = await replay.get("/districts/370211")
                assert r.status_code == 303 and r.headers["location"].startswith("/signin"), r.status_code
        # Signing in again opens a new session; the old cookie stays dead.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://a.test") as b:
            await sign_in(b, keys.bureau)
            assert (await b.get("/")).status_code == 200
            assert b.cookies["attain_session"] != copied


async def test_two_workers_on_one_database_accept_each_others_sessions(settings: Settings, keys: Keys) -> None:
    first, second = create_app(settings), create_app(settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a.test") as a:
            await sign_in(a, keys.admin)
            cookie = a.cookies["attain_session"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://a.test") as b:
            b.cookies.set("attain_session", cookie)
            assert (await b.get("/districts/370202")).status_code == 200


async def test_names_with_script_are_escaped(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = keys.auth(keys.admin)
    evil = "<script>alert(1)</script>"
    r = await client.patch(f"{API}/indicators/t03-campus-network-compliance", json={"name_zh": f"网络{evil}"},
                           headers=admin)
    assert r.status_code == 200, r.text
    made = await client.post(f"{API}/keys", json={"name": f"局长{evil}", "role": "bureau"}, headers=admin)
    assert made.status_code == 201, made.text
    await sign_in(client, made.json()["key"])
    for path in ("/", "/indicators/t03-campus-network-compliance", "/actions/2"):
        page = await client.get(path)
        assert page.status_code == 200
        assert evil not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


async def test_unknown_pages_and_bad_dates_answer_in_chinese(client: httpx.AsyncClient, keys: Keys) -> None:
    await sign_in(client, keys.admin)
    r = await client.get("/indicators/t99-nothing")
    assert r.status_code == 404 and "未找到" in r.text
    r = await client.get("/", params={"date": "2021-02-30"})
    assert r.status_code == 422 and "无法识别" in r.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_api_docs_load_their_assets_from_this_server(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(ref.startswith("/") for ref in refs), refs
    assert "fonts.googleapis" not in page.text and "cdn.jsdelivr" not in page.text
    for ref in refs:
        if ref.startswith("/static/"):
            assert (await client.get(ref)).status_code == 200, ref


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_api_docs_cannot_be_framed_and_run_only_their_own_scripts(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    policy = {d.split()[0]: d.split()[1:] for d in page.headers["content-security-policy"].split("; ")}
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]
    assert page.headers["x-content-type-options"] == "nosniff"
    # Swagger UI's start-up script is inline: allowed by its hash, and nothing else inline is.
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline}
    assert set(policy["script-src"]) == {"'self'", *hashes}
    assert "'unsafe-inline'" not in policy["script-src"]


async def test_the_session_secret_never_leaves_in_an_archive(app_ctx: object, client: httpx.AsyncClient,
                                                              keys: Keys) -> None:
    await sign_in(client, keys.admin)
    secret = app_ctx.state.web_secret  # type: ignore[attr-defined]
    assert secret and len(secret) >= 40
    out = io.BytesIO()
    await export_store(app_ctx.state.engine, out)  # type: ignore[attr-defined]
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert "service_secrets" not in archive.read("manifest.json").decode()
    assert all(secret.encode() not in archive.read(name) for name in archive.namelist())
