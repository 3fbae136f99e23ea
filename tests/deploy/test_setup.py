"""The README's two commands are the whole set-up: `make test` installs what the tests drive, finds PostgreSQL by
itself and says which databases it tests; `.ci/run` calls exactly `make test`."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make run", "make test"]
    assert "../shared" not in text, "the README links outside the repository"


def test_ci_runs_exactly_make_test() -> None:
    lines = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines() if ln.strip()]
    assert lines[-1] == "make test"
    assert "pytest" not in (ROOT / ".ci/run").read_text()


def test_make_test_goes_through_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    assert "scripts/test" in recipe


def test_the_tools_the_tests_drive_are_present_after_setup() -> None:
    # scripts/system-packages ran before this suite (make test); on a machine of this kind it installs them.
    done = subprocess.run([str(ROOT / "scripts/system-packages")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0
    for tool in ("prometheus", "promtool", "chromium", "pdftotext"):
        assert shutil.which(tool), f"{tool} missing after scripts/system-packages: {done.stderr[-500:]}"


def test_make_test_says_which_databases_it_tests() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ATTAIN_TEST_POSTGRES_URL"}
    done = subprocess.run([str(ROOT / "scripts/test"), "--collect-only", "-q", "tests/deploy/test_setup.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    first = done.stdout.splitlines()[0]
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=3).close()
        answers = True
    except OSError:
        answers = False
    if answers:
        assert first.startswith("make test: SQLite and PostgreSQL"), done.stdout[:500]
    else:
        assert first.startswith("make test: SQLite ONLY"), done.stdout[:500]
