"""One rule for every text field (key names, notes, comments, titles, urls, unit names): stored NFC, names compared
NFKC-casefolded, no control, format or bidi characters (line feeds only in notes), bounded; urls http(s) with a
valid host and port. The API answers 422, the CLI exits 2, and nothing is stored."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.api.deliverable_helpers import put_report
from tests.api.helpers import API, HUANGDAO, STOCK, assert_problem, batch, current, post
from tests.conftest import Keys

ROOT = Path(__file__).resolve().parents[2]
R03 = "r03-1"


@pytest.mark.parametrize("name", ["a\nb", "a\u202eb", "a\u200bb", " ", "a\u2028b", "a\x00b", "x" * 101])
async def test_key_names_refuse_what_unit_names_refuse(client: httpx.AsyncClient, keys: Keys, name: str) -> None:
    r = await client.post(f"{API}/keys", json={"name": name, "role": "bureau"}, headers=keys.auth(keys.admin))
    assert_problem(r, 422)
    listed = (await client.get(f"{API}/keys", headers=keys.auth(keys.admin))).json()
    assert not any(k["name"] == name for k in listed)


async def test_key_names_are_stored_nfc_and_compared_nfkc_casefolded(client: httpx.AsyncClient, keys: Keys) -> None:
    made = await client.post(f"{API}/keys", json={"name": "Cafe\u0301（测试）", "role": "bureau"},
                             headers=keys.auth(keys.admin))
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "Café（测试）"  # NFC: one é; the full-width brackets stay
    clash = await client.post(f"{API}/keys", json={"name": "ＣＡＦÉ (测试)", "role": "bureau"},
                              headers=keys.auth(keys.admin))
    assert assert_problem(clash, 409)["code"] == "key_name_taken"


@pytest.mark.parametrize("url", ["http://\u202eevil.com", "http://[::1]:99999/", "http://exa mple.com/",
                                 "https://edu.qingdao.gov.cn@evil.example/", "http://-bad-.example/", "http://:80/"])
async def test_deliverable_urls_need_a_valid_host_and_port(client: httpx.AsyncClient, keys: Keys, url: str) -> None:
    doc = assert_problem(await put_report(client, keys.admin, R03, state="done", done_on="2019-11-20", url=url), 422)
    assert doc["code"] == "bad_url", doc


async def test_good_urls_and_notes_are_kept_nfc(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await put_report(client, keys.admin, R03, state="done", done_on="2019-11-20",
                         url="http://[::1]:8080/a", note="第一行\r\n第二行：Cafe\u0301")
    assert r.status_code == 200, r.text
    assert r.json()["deliverable"]["report"]["note"] == "第一行\n第二行：Café"
    bidi = await put_report(client, keys.admin, R03, state="in_progress", note="ok\u202e")
    assert assert_problem(bidi, 422)["code"] == "control_characters"


async def test_comments_and_titles_refuse_format_and_bidi_characters(client: httpx.AsyncClient, keys: Keys) -> None:
    row = {"indicator": STOCK, "value": 3, "comment": "核对\u200b过"}
    doc = assert_problem(await post(client, keys.huangdao, batch(HUANGDAO, "2020", row)), 422)
    assert [c["code"] for c in doc["conflicts"]] == ["invalid_row"]
    fine = {"indicator": STOCK, "value": 3, "comment": "第一行\n第二行 Cafe\u0301"}
    assert (await post(client, keys.huangdao, batch(HUANGDAO, "2020", fine))).status_code == 200
    [stored] = await current(client, keys.huangdao, indicator=STOCK)
    assert stored["comment"] == "第一行\n第二行 Café"
    review = await client.post(f"{API}/reviews", json={"unit": "黄岛\u202e区", "year": 2020},
                               headers=keys.auth(keys.huangdao))
    assert_problem(review, 422)


async def test_unit_names_are_stored_nfc_and_found_by_their_nfkc_form(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"code": "370211901", "name": "测试ＡＢＣ中学（本部）", "parent": HUANGDAO, "aliases": ["ＡＢＣ"]}
    r = await client.post(f"{API}/units", json=body, headers=keys.auth(keys.admin))
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["aliases"]) == ("测试ＡＢＣ中学（本部）", ["ＡＢＣ"])
    values = await post(client, keys.huangdao, batch("abc", "2020", {"indicator": STOCK, "value": 3}))
    assert values.status_code == 200, values.text
    assert [v["unit"] for v in await current(client, keys.huangdao, indicator=STOCK)] == ["370211901"]


def test_the_cli_refuses_the_same_key_names(settings: Settings) -> None:
    env = {**os.environ, "ATTAIN_DATABASE_URL": settings.database_url}
    for name in ("a\u202eb", " "):
        done = subprocess.run([sys.executable, "-m", "app.cli", "keys", "create", "--role", "bureau", "--name", name],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "--name" in done.stderr and "Traceback" not in done.stderr, done.stderr
