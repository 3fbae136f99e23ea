"""Secrets: API keys are compared in constant time, never logged, and the bootstrap admin key is shown once.

- app/domain/keys.py compares a presented key's hash with hmac.compare_digest (read from the code, and seen
  being called); a key that differs only in its last character is 401.
- Neither a whole key nor its prefix_secret part nor its secret appears in anything the service logs —
  structlog and stdlib logging at DEBUG, in-process and from a real `attain serve` process.
- `attain serve`'s bootstrap prints the first admin key exactly once (a second start prints none), the key
  works, and with ATTAIN_BOOTSTRAP_KEY_FILE it goes to that file (mode 0600) instead of the terminal.
"""

import ast
import asyncio
import hashlib
import hmac
import inspect
import io
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

import app.db.keys as key_store
import app.domain.keys as domain_keys
from app import logs
from app.cli import bootstrap
from app.main import create_app
from app.settings import Settings
from tests.conftest import Keys

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
TOKEN = re.compile(r"attain_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")


def _secret_forms(token: str) -> list[str]:
    """What must never be logged: the key, its prefix_secret part and the secret alone."""
    _, prefix, secret = token.split("_", 2)
    return [token, f"{prefix}_{secret}", secret]


def _last_char_changed(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _probe(name: str) -> str:
    """A GET each role may make."""
    return "/metrics" if name == "scraper" else f"{API}/actions"


# --- constant-time comparison --------------------------------------------------------------------------------

def _function(module: Any, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    tree = ast.parse(inspect.getsource(module))
    found = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name]
    assert len(found) == 1, f"{module.__name__}.{name}"
    return found[0]


def _calls(node: ast.AST) -> set[str]:
    return {ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}


def _equality_operands(node: ast.AST) -> list[str]:
    return [ast.unparse(side) for n in ast.walk(node) if isinstance(n, ast.Compare)
            and any(isinstance(op, ast.Eq | ast.NotEq | ast.Is | ast.IsNot) for op in n.ops)
            for side in (n.left, *n.comparators)]


def test_keys_are_matched_with_hmac_compare_digest() -> None:
    matches = _function(domain_keys, "matches")
    assert "hmac.compare_digest" in _calls(matches), ast.unparse(matches)
    assert not _equality_operands(matches), ast.unparse(matches)
    authenticate = _function(key_store, "_lookup")  # what authenticate() and authenticate_and_record() call
    assert "keys.matches" in _calls(authenticate), ast.unparse(authenticate)
    # The stored hash and the presented token are never compared with == anywhere in the lookup.
    compared = _equality_operands(authenticate)
    assert not [c for c in compared if "key_hash" in c or "token" in c], compared


def test_no_module_compares_a_key_hash_with_equality() -> None:
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(ROOT)}:{c}" for c in _equality_operands(tree) if "key_hash" in c]
    assert not offenders


async def test_compare_digest_decides_every_authentication(
    client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, bool]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        out = real(a, b)
        seen.append((a, b, out))
        return out

    monkeypatch.setattr(domain_keys.hmac, "compare_digest", spy)
    assert (await client.get(f"{API}/actions", headers=keys.auth(keys.bureau))).status_code == 200
    assert seen == [(hashlib.sha256(keys.bureau.encode()).hexdigest(),) * 2 + (True,)]
    seen.clear()
    wrong = _last_char_changed(keys.bureau)
    assert (await client.get(f"{API}/actions", headers=keys.auth(wrong))).status_code == 401
    assert [ok for *_, ok in seen] == [False]


@pytest.mark.parametrize("name", ["admin", "bureau", "scraper", "city", "huangdao", "shinan"])
async def test_a_key_differing_only_in_its_last_character_is_401(
    client: httpx.AsyncClient, keys: Keys, name: str
) -> None:
    token = getattr(keys, name)
    path = _probe(name)
    assert (await client.get(path, headers=keys.auth(token))).status_code == 200
    for wrong in (_last_char_changed(token), token[:-1], token + "x"):
        r = await client.get(path, headers=keys.auth(wrong))
        assert r.status_code == 401, (wrong, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"].startswith("application/problem+json")


# --- never logged ----------------------------------------------------------------------------------------------

@pytest.fixture
def settings(database_url: str) -> Settings:
    """DEBUG logging: the most the service would ever write."""
    return Settings(database_url=database_url, metrics_public=False, log_level="debug", key_cache_seconds=0.0)


@pytest.fixture
def structlog_output(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything structlog renders, with app/logs.py's processors and renderer, collected in a buffer.

    structlog binds sys.stdout when it is imported and caches each logger on first use, so capsys alone would miss
    the output of loggers an earlier test used: they are rebuilt here (after the app configured logging) to write
    into the buffer, and put back afterwards."""
    saved = structlog.get_config()
    buffer = io.StringIO()
    logs.configure(level="debug")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(buffer), cache_logger_on_first_use=False)
    for module in [m for n, m in list(sys.modules.items()) if n == "app" or n.startswith("app.")]:
        for value in list(vars(module).values()):
            if type(value).__name__ == "BoundLoggerLazyProxy" and "bind" in vars(value):
                monkeypatch.delattr(value, "bind")  # drop the cached logger; restored after the test
    try:
        yield buffer
    finally:
        structlog.configure(**saved)


async def test_keys_never_appear_in_logs(
    client: httpx.AsyncClient, keys: Keys, structlog_output: io.StringIO, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    names = ["admin", "bureau", "scraper", "city", "huangdao", "shinan"]
    tokens = [getattr(keys, n) for n in names]
    for name in names:
        token = getattr(keys, name)
        path = _probe(name)
        assert (await client.get(path, headers=keys.auth(token))).status_code == 200
        for wrong in (_last_char_changed(token), token[:-1]):
            assert (await client.get(path, headers=keys.auth(wrong))).status_code == 401
        # A key in the wrong place: another scheme, a query parameter, a header the service does not read.
        assert (await client.get(path, headers={"Authorization": f"Basic {token}"})).status_code == 401
        assert (await client.get(path, params={"api_key": token})).status_code == 401
        assert (await client.get(path, headers={"X-Api-Key": token})).status_code == 401
    # Writes, idempotent writes, key management — each with the key in play.
    body = {"unit": "370211", "period": "2020", "values": [{"indicator": "t14-practice-base", "value": 5}]}
    h = {**keys.auth(keys.huangdao), "Idempotency-Key": "secrets-1"}
    assert (await client.post(f"{API}/measurements", json=body, headers=h)).status_code == 200
    assert (await client.post(f"{API}/measurements", json=body, headers=h)).status_code == 200
    r = await client.post(f"{API}/keys", json={"role": "bureau", "name": "temporary"}, headers=keys.auth(keys.admin))
    assert r.status_code == 201, r.text
    made = r.json()
    tokens.append(made["key"])
    assert (await client.get(f"{API}/actions", headers=keys.auth(made["key"]))).status_code == 200
    assert (await client.delete(f"{API}/keys/{made['id']}", headers=keys.auth(keys.admin))).status_code == 204
    assert (await client.get(f"{API}/actions", headers=keys.auth(made["key"]))).status_code == 401
    assert (await client.get(f"{API}/keys", headers=keys.auth(keys.admin))).status_code == 200

    out = capsys.readouterr()
    # The test's own HTTP client logs the URLs it requests (api_key=… included): that is not the service.
    service = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    records = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in service)
    logged = "\n".join([structlog_output.getvalue(), out.out, out.err, records])
    # The capture works: every request left its access-log line, the failed ones too.
    assert logged.count("path=/api/v1/actions") >= 20 and "status=401" in logged, logged[-2000:]
    leaked = [(t[:16] + "…", form[:8] + "…") for t in tokens for form in _secret_forms(t) if form in logged]
    assert not leaked


# --- the bootstrap admin key ------------------------------------------------------------------------------------

def _fresh(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", **extra)


async def _works_as_admin(settings: Settings, token: str) -> None:
    """The key authenticates, as an admin."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://attain.test") as c:
            r = await c.get(f"{API}/keys", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            assert [(k["name"], k["role"], k["revoked"]) for k in r.json()] == [("bootstrap admin", "admin", False)]
            r = await c.get(f"{API}/keys", headers={"Authorization": f"Bearer {_last_char_changed(token)}"})
            assert r.status_code == 401


async def test_bootstrap_prints_the_admin_key_exactly_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATTAIN_BOOTSTRAP_KEY_FILE", raising=False)
    settings = _fresh(tmp_path)
    # bootstrap() runs its own event loops (asyncio.run), as `attain serve` does before uvicorn starts.
    await asyncio.to_thread(bootstrap, settings)
    first = capsys.readouterr()
    await asyncio.to_thread(bootstrap, settings)
    second = capsys.readouterr()
    printed = TOKEN.findall(first.out)
    assert len(printed) == 1, first.out
    token = printed[0]
    assert "shown only this once" in first.out
    assert token not in first.err
    assert not TOKEN.search(second.out + second.err), second
    assert not any(form in second.out + second.err for form in _secret_forms(token))
    await _works_as_admin(settings, token)


async def test_bootstrap_writes_the_key_to_a_0600_file_instead_of_printing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "secrets" / "admin.key"
    key_file.parent.mkdir()
    key_file.write_text("stale")
    key_file.chmod(0o644)  # a file left with loose permissions is tightened, not trusted
    monkeypatch.setenv("ATTAIN_BOOTSTRAP_KEY_FILE", str(key_file))
    settings = _fresh(tmp_path)
    assert settings.bootstrap_key_file == str(key_file)
    old_umask = os.umask(0)  # the mode must not depend on the caller's umask
    try:
        await asyncio.to_thread(bootstrap, settings)
    finally:
        os.umask(old_umask)
    out = capsys.readouterr()
    token = key_file.read_text().strip()
    assert TOKEN.fullmatch(token), token
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in out.out
    assert not TOKEN.search(out.out + out.err)
    assert not any(form in out.out + out.err for form in _secret_forms(token))
    # A second start neither prints nor replaces it.
    await asyncio.to_thread(bootstrap, settings)
    again = capsys.readouterr()
    assert not TOKEN.search(again.out + again.err) and key_file.read_text().strip() == token
    await _works_as_admin(settings, token)


# --- a real `attain serve` process ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Serve:
    """`python -m app.cli serve` with everything it writes going to one file."""

    def __init__(self, db: Path, log: Path, **env: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ATTAIN_")}
        self.env = {**clean, "ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "ATTAIN_PORT": str(self.port),
                    "ATTAIN_LOG_LEVEL": "debug", **env}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "_Serve":
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("attain serve did not become ready")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _exercise(base: str, tokens: dict[str, str]) -> None:
    """Good and bad requests with every key."""
    with httpx.Client(base_url=base, timeout=30) as c:
        for name, token in tokens.items():
            path = "/metrics" if name == "scraper" else f"{API}/actions"
            assert c.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert c.get(path, headers={"Authorization": f"Bearer {_last_char_changed(token)}"}).status_code == 401
            assert c.get(path, params={"key": token}).status_code == 401
        if "district" in tokens:
            body = {"unit": "370211", "period": "2020", "values": [{"indicator": "t14-practice-base", "value": 5}]}
            h = {"Authorization": f"Bearer {tokens['district']}", "Idempotency-Key": "serve-1"}
            assert c.post(f"{API}/measurements", json=body, headers=h).status_code == 200
            assert c.post(f"{API}/measurements", json=body, headers=h).status_code == 200


async def test_a_served_process_prints_the_bootstrap_key_once_and_logs_no_key(tmp_path: Path) -> None:
    db, first_log, second_log = tmp_path / "attain.db", tmp_path / "first.log", tmp_path / "second.log"

    def serve_and_use() -> dict[str, str]:
        with _Serve(db, first_log) as s:
            printed = TOKEN.findall(first_log.read_text(errors="replace"))
            assert len(printed) == 1, first_log.read_text(errors="replace")
            tokens = {"admin": printed[0]}
            with httpx.Client(base_url=s.base, timeout=30) as c:
                for role, unit in (("bureau", None), ("district", "370211"), ("scraper", None)):
                    r = c.post(f"{API}/keys", json={"role": role, "name": f"serve {role}", "unit": unit},
                               headers={"Authorization": f"Bearer {tokens['admin']}"})
                    assert r.status_code == 201, r.text
                    tokens[role] = r.json()["key"]
            _exercise(s.base, tokens)
        with _Serve(db, second_log, ATTAIN_LOG_JSON="true") as s:
            _exercise(s.base, tokens)
        return tokens

    tokens = await asyncio.to_thread(serve_and_use)
    first, second = first_log.read_text(errors="replace"), second_log.read_text(errors="replace")
    assert "request" in first and '"event": "request"' in second  # the access logs were written
    assert first.count(tokens["admin"]) == 1  # the bootstrap banner, nothing else
    first_without_banner = first.replace(tokens["admin"], "", 1)
    leaked = [(name, n) for name, token in tokens.items() for n, log in (("first", first_without_banner),
              ("second", second)) if any(form in log for form in _secret_forms(token))]
    assert not leaked
    assert not TOKEN.search(first_without_banner + second)

