"""Messages for people: Chinese by default, English on request, every message translated, codes unchanged."""

import re
import string
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app import i18n
from app.domain.conflicts import CODE_TEXT, Code
from app.errors import HTTP_TITLES, AppError
from app.i18n import PO_FILE, _, negotiate
from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
API = "/api/v1"


def _catalog() -> dict[str, str]:
    with PO_FILE.open("rb") as fh:
        po = read_po(fh, locale="zh_Hans")
    return {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}


def test_every_message_in_the_code_has_a_chinese_translation_with_the_same_placeholders() -> None:
    catalog = _catalog()
    found = {
        msgid for _file, _line, msgid, _comments, _ctx in extract_from_dir(
            str(ROOT / "app"), keywords={"_": None}, comment_tags=())
    }
    assert len(found) > 100  # the extraction itself works: every problem and conflict message is in it
    missing = sorted(m for m in found if m not in catalog)
    assert missing == [], f"untranslated (run make messages, then translate): {missing}"
    for msgid in found:
        assert _fields(msgid) == _fields(catalog[msgid]), msgid
        # words are translated; symbols and acronyms ("%", "CSV") may stay as they are
        assert CJK.search(catalog[msgid]) or not re.search(r"[a-z]{3}", msgid), msgid


def test_every_conflict_code_has_a_chinese_and_an_english_message() -> None:
    assert set(CODE_TEXT) == set(Code)
    for code in Code:
        zh, en = CODE_TEXT[code].render("zh"), CODE_TEXT[code].render("en")
        assert CJK.search(zh) and not CJK.search(en) and zh != en, code


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def test_every_problem_type_has_a_chinese_and_an_english_title() -> None:
    titles = [c.title for c in (AppError, *_subclasses(AppError))] + list(HTTP_TITLES.values())
    assert len(titles) >= 20
    for title in titles:
        assert CJK.search(title.render("zh")) and not CJK.search(title.render("en")), title


@pytest.mark.parametrize(("header", "default", "want"), [
    (None, "zh", "zh"), ("", "en", "en"), ("en", "zh", "en"), ("en-US,en;q=0.9", "zh", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "en", "zh"), ("en;q=0.3, zh-Hans;q=0.8", "en", "zh"), ("fr, en;q=0.5", "zh", "en"),
    ("fr", "zh", "zh"), ("*", "en", "en"), ("en;q=0", "zh", "zh"), ("en;q=abc", "zh", "zh"),
])
def test_accept_language_picks_the_preferred_language_we_have(header: str | None, default: i18n.Lang,
                                                              want: str) -> None:
    assert negotiate(header, default) == want


def test_messages_render_their_parameters_in_the_language_asked() -> None:
    msg = _("Missing {fields}.", fields=_("{first}, {rest}", first=_("unit"), rest=_("period")))
    assert msg.render("zh") == "缺少单位、期间。"
    assert msg.render("en") == "Missing unit, period."


async def test_problems_and_conflicts_are_chinese_by_default_english_on_request(
    client: httpx.AsyncClient, keys: object
) -> None:
    auth = {"Authorization": f"Bearer {keys.huangdao}"}  # type: ignore[attr-defined]
    body = {"unit": "370211", "period": "2020", "values": [{"indicator": "t03-nope", "value": 1}]}
    zh = await client.post(f"{API}/measurements", json=body, headers={**auth, "Accept-Language": ""})
    en = await client.post(f"{API}/measurements", json=body, headers={**auth, "Accept-Language": "en-GB"})
    assert zh.status_code == en.status_code == 422
    assert zh.headers["content-language"] == "zh-Hans" and en.headers["content-language"] == "en"
    assert zh.json()["title"] == "提交被拒绝" and en.json()["title"] == "Submission rejected"
    assert zh.json()["detail"] == "没有数据被接受：1 行被拒绝。"
    [czh], [cen] = zh.json()["conflicts"], en.json()["conflicts"]
    assert czh["code"] == cen["code"] == "unknown_indicator"
    assert czh["detail"] == "没有指标“t03-nope”；指标代码见 /api/v1/indicators。"
    assert cen["detail"] == "No indicator 't03-nope'; see /api/v1/indicators for codes."
    assert zh.json()["type"] == en.json()["type"]


async def test_every_kind_of_problem_answers_in_chinese(client: httpx.AsyncClient, keys: object) -> None:
    k = keys  # type: ignore[assignment]
    zh = {"Accept-Language": "zh-CN"}
    auth = {**zh, "Authorization": f"Bearer {k.huangdao}"}  # type: ignore[attr-defined]
    cases = [
        (await client.get(f"{API}/units", headers=zh), 401, "缺少 API 密钥或密钥无效"),
        (await client.post(f"{API}/indicators", json={}, headers={**zh, "Authorization": f"Bearer {k.bureau}"}),
         403, "此 API 密钥无权执行该操作"),
        (await client.get(f"{API}/tasks/99", headers=auth), 404, "未找到"),
        (await client.get(f"{API}/no-such-thing", headers=auth), 404, "未找到"),
        (await client.put(f"{API}/units", headers=auth), 405, "不允许的请求方法"),
        (await client.post(f"{API}/measurements", content=b"{", headers={**auth, "Content-Type": "application/json"}),
         400, "无法读取的请求"),
        (await client.post(f"{API}/measurements", content=b"x", headers={**auth, "Content-Type": "text/plain"}),
         415, "不支持的内容类型"),
        (await client.post(f"{API}/measurements", content=b"x" * (6 << 20),
                           headers={**auth, "Content-Type": "text/csv"}), 413, "请求过大"),
        (await client.get(f"{API}/attainment", params={"date": "yesterday"}, headers=auth), 422,
         "请求无法处理"),
        (await client.get(f"{API}/measurements", params={"limit": "0"}, headers=auth), 422, "请求参数无效"),
    ]
    for r, status, title in cases:
        assert r.status_code == status, (r.request.url, r.text)
        doc = r.json()
        assert doc["title"] == title and CJK.search(doc["detail"]), doc
        assert doc["type"].startswith("https://attain.qingdao.example/problems/") and not CJK.search(doc["type"])


async def test_the_default_language_is_a_setting(database_url: str, keys: object) -> None:
    app = create_app(Settings(database_url=database_url, default_lang="en"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://attain.test"
    ) as c:
        plain = await c.get(f"{API}/tasks/99", headers={"Authorization": f"Bearer {keys.admin}"})  # type: ignore
        chinese = await c.get(f"{API}/tasks/99", headers={"Authorization": f"Bearer {keys.admin}",  # type: ignore
                                                          "Accept-Language": "zh"})
    assert plain.json()["detail"] == "No task 99; tasks are numbered 1–34."
    assert chinese.json()["detail"] == "没有任务 99；任务编号为 1–34。"
