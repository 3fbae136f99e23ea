"""A real attain (uvicorn) and a real Prometheus scraping it, for process-level tests."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@contextmanager
def attain_server(folder: Path) -> Iterator[tuple[str, str]]:
    """`attain serve` on a fresh SQLite file; yields (base URL, bootstrap admin key)."""
    port = free_port()
    key_file = folder / "admin.key"
    env = {**os.environ, "ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/attain.db", "ATTAIN_PORT": str(port),
           "ATTAIN_BOOTSTRAP_KEY_FILE": str(key_file), "ATTAIN_LOG_LEVEL": "warning"}
    log = (folder / "attain.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, timeout=60, what="attain")
        yield base, key_file.read_text().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def cli(folder: Path, *args: str) -> str:
    env = {**os.environ, "ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/attain.db"}
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True, timeout=120)
    return done.stdout


@contextmanager
def prometheus(folder: Path, *, target: str, key_file: Path, rule_files: list[Path] | None = None,
               alertmanager: str | None = None) -> Iterator[str]:
    """Debian's prometheus with deploy/'s local config, scraping `target` every second (other rule files and an
    Alertmanager when given)."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (make test installs it: scripts/system-packages)"
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.local.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    job = config["scrape_configs"][0]
    job["scrape_timeout"] = "1s"
    job["authorization"]["credentials_file"] = str(key_file)
    job["static_configs"] = [{"targets": [target]}]
    config["rule_files"] = ([str(f) for f in rule_files] if rule_files is not None
                            else [str(ROOT / "deploy/prometheus" / f) for f in config["rule_files"]])
    config.pop("alerting", None)
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (folder / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/-/ready", timeout=2).status_code == 200, timeout=60, what="prometheus")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def query(base: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return result if isinstance(result, list) else [result]
