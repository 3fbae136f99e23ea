"""The README's curl examples, run as written against a live `attain serve` (uvicorn) with the real curl."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bench.common import free_port

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- tested: tests/test_readme.py"
EXPECT = re.compile(r"#\s*→\s*(\d{3})\s*$")


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text.split(MARK, 1)[1]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, "the README's tested block is missing"
    return match.group(1)


def test_the_tested_block_annotates_every_curl() -> None:
    lines = readme_block().splitlines()
    curls = [line for line in lines if line.lstrip().startswith("curl ")]
    annotated = [line for line in lines if EXPECT.search(line)]
    assert len(curls) >= 10 and len(annotated) == len(curls)


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    """`attain serve` on a fresh store, started as the README says (admin key written to admin.key)."""
    for name in (".venv", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    port = free_port()
    env = {**os.environ, "ATTAIN_DATABASE_URL": database_url, "ATTAIN_BOOTSTRAP_KEY_FILE": "admin.key",
           "ATTAIN_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/attain"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "attain serve did not start"
            time.sleep(0.2)
        yield base, tmp_path, env  # type: ignore[misc]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_readme_curl_examples_answer_as_annotated(live: tuple[str, Path, dict[str, str]]) -> None:
    base, cwd, env = live
    block = readme_block()
    expected = [int(m.group(1)) for line in block.splitlines() if (m := EXPECT.search(line))]
    # The real curl, asked to report each status on stderr; the block itself runs unchanged.
    wrapper = "curl() { command curl -w '%{stderr}@@status %{http_code}\\n' \"$@\"; }\nset -euo pipefail\n"
    done = subprocess.run(["bash", "-c", wrapper + block], cwd=cwd, env={**env, "BASE": base},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    statuses = [int(s) for s in re.findall(r"@@status (\d{3})", done.stderr)]
    assert statuses == expected, done.stdout[-3000:]
    # what the examples left behind is what they promise
    assert (cwd / "template-2024.xlsx").read_bytes()[:2] == b"PK"
    summary = (cwd / "summary.csv").read_bytes()
    assert summary.startswith(b"\xef\xbb\xbf") and "已达成".encode() in summary
    values = (cwd / "values.csv").read_text(encoding="utf-8-sig")
    assert values.startswith("指标代码,指标名称") and "黄岛区" in values
    shutil.rmtree(cwd / "data", ignore_errors=True)
