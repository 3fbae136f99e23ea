"""The desk and the attention page in a real headless Chromium (Debian's) against a real uvicorn: a department
uploads a PDF with a progress report and downloads it byte-identical; a leader writes a 批示, the department
answers, the leader closes it; an extension is requested and approved from the attention page."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright import sync_api as playwright

from tests.deploy.live import attain_server, cli
from tests.web.test_browser import ARTIFACTS, CHROMIUM

API = "/api/v1"
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
CODE = "r03-1"  # 教科院 is one of its departments


class Stage:
    def __init__(self, base: str, admin: str, leader: str, dept: str, folder: Path) -> None:
        self.base, self.admin, self.leader, self.dept, self.folder = base, admin, leader, dept, folder
        self.api = httpx.Client(base_url=base, timeout=60)

    def get(self, path: str, key: str) -> Any:
        r = self.api.get(f"{API}{path}", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    assert CHROMIUM, "chromium is not installed (make test installs it: scripts/system-packages)"
    folder = tmp_path_factory.mktemp("desk")
    with attain_server(folder) as (base, admin):
        leader = cli(folder, "keys", "create", "--role", "leader", "--name", "督查室").strip().split()[-1]
        dept = cli(folder, "keys", "create", "--role", "department", "--department", "教科院",
                   "--name", "教科院").strip().split()[-1]
        s = Stage(base, admin, leader, dept, folder)
        # Every seeded deadline has passed: give this one a deadline a month away, as the bureau would.
        soon = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=30)).isoformat()
        r = s.api.patch(f"{API}/deliverables/{CODE}", headers={"Authorization": f"Bearer {admin}"},
                        json={"deadline": soon})
        assert r.status_code == 200, r.text
        yield s
        s.api.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Person:
    """A signed-in browser context whose console errors and failed requests are recorded."""

    def __init__(self, browser: Any, stage: Stage, key: str, width: int = 390) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN",
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.stage = stage
        self.page.goto(stage.base + "/desk")
        self.page.fill("input[name=key]", key)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str) -> Any:
        response = self.page.goto(self.stage.base + path)
        self.page.wait_for_load_state("networkidle")
        assert response.status == 200, (path, response.status)
        return self.page

    def fits(self) -> None:
        """Nothing wider than the phone's screen but the scrolling tables."""
        wide = self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"page overflows by {wide}px"

    def close(self) -> None:
        self.context.close()
        assert self.problems == []


def test_a_department_uploads_a_pdf_sees_it_and_downloads_it_byte_identical(browser: Any, stage: Stage,
                                                                            tmp_path: Path) -> None:
    pdf = tmp_path / "阶段成果.pdf"
    pdf.write_bytes(PDF)
    who = Person(browser, stage, stage.dept)
    try:
        page = who.open("/desk")
        assert "教科院 · 工作台" in page.content()
        who.fits()
        item = page.locator(f"#d-{CODE}")
        item.locator("summary", has_text="报送进展").click()
        form = item.locator("form[action$='/progress']")
        form.locator("textarea[name=summary]").fill("指导意见已完成初稿，正在征求意见")
        form.locator("input[name=percent]").fill("60")
        form.locator("input[name=files]").set_input_files(str(pdf))
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert "进展报告已报送。" in page.content()
        link = page.locator(f"#d-{CODE} a[data-file]", has_text="阶段成果.pdf")
        with page.expect_download() as waiting:
            link.click()
        download = waiting.value
        assert Path(download.path()).read_bytes() == PDF
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "desk-390.png"), full_page=True)
    finally:
        who.close()
    (report,) = stage.get(f"/deliverables/{CODE}/progress", stage.dept)
    assert report["percent"] == 60 and report["files"][0]["name"] == "阶段成果.pdf"


def test_a_leader_writes_a_pishi_the_department_answers_the_leader_closes_it(browser: Any, stage: Stage) -> None:
    leader, dept = Person(browser, stage, stage.leader, 1280), Person(browser, stage, stage.dept)
    try:
        page = leader.open("/attention")
        page.locator("summary", has_text="写批示").click()
        form = page.locator("form[action='/attention/instructions']")
        form.locator("select[name=kind]").select_option("deliverable")
        form.locator("input[name=code]").fill(CODE)
        form.locator("textarea[name=text]").fill("请教科院本周内报告指导意见出台进度")
        form.locator("input[name=departments]").fill("教科院")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert "批示已发出。" in page.content()
        (made,) = stage.get("/instructions", stage.leader)["items"]

        desk = dept.open("/desk")
        item = desk.locator(f"#i-{made['id']}")
        assert "请教科院本周内报告指导意见出台进度" in item.inner_text()
        item.locator("textarea[name=text]").fill("已形成送审稿，下周提交局务会")
        item.locator("button[type=submit]").click()
        desk.wait_for_load_state("networkidle")
        assert "批示反馈已提交。" in desk.content()
        assert stage.get(f"/instructions/{made['id']}", stage.leader)["state"] == "answered"

        page = leader.open("/attention")
        item = page.locator(f"#i-{made['id']}")
        assert "已形成送审稿" in item.inner_text()
        item.locator("button[data-action=close]").click()
        page.wait_for_load_state("networkidle")
        assert "批示已办结。" in page.content()
    finally:
        leader.close()
        dept.close()
    done = stage.get(f"/instructions/{made['id']}", stage.leader)
    assert done["state"] == "closed"
    assert [(e["action"], e["key_name"]) for e in done["history"]] == [
        ("open", "督查室"), ("answer", "教科院"), ("close", "督查室")]


def test_an_extension_is_requested_and_approved_from_the_attention_page(browser: Any, stage: Stage) -> None:
    before = stage.get(f"/deliverables/{CODE}", stage.leader)
    dept, leader = Person(browser, stage, stage.dept), Person(browser, stage, stage.leader, 390)
    try:
        desk = dept.open("/desk")
        item = desk.locator(f"#d-{CODE}")
        item.locator("summary", has_text="申请延期").click()
        form = item.locator("form[action$='/extensions']")
        later = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=200)
        form.locator("input[name=new_deadline]").fill(later.isoformat())
        form.locator("textarea[name=reason]").fill("需征求十个区市意见")
        form.locator("button[type=submit]").click()
        desk.wait_for_load_state("networkidle")
        assert "延期申请已提交" in desk.content()
        pending = stage.get(f"/deliverables/{CODE}", stage.leader)

        page = leader.open("/attention")
        leader.fits()
        assert page.locator("[data-count=pending]").inner_text() == "1"
        page.locator("[data-extension] button[data-action=approve]").click()
        page.wait_for_load_state("networkidle")
        assert "延期申请已批准。" in page.content()
        page.emulate_media(media="print")
        assert page.locator("form.inline").first.is_hidden()  # the controls stay off paper
    finally:
        dept.close()
        leader.close()
    after = stage.get(f"/deliverables/{CODE}", stage.leader)
    assert (before["status"], pending["light"]) == ("due_soon", "yellow")
    assert after["status"] == "not_due" and after["light"] in ("grey", "green")
    assert after["light"] != pending["light"]
