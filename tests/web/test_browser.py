"""The leaders' page in a real headless Chromium (Debian's), against a real uvicorn filled by `attain simulate`.

Screenshots of every page kind at 1280 px and 390 px go to test-artifacts/web/ (ignored by git); the printed
overview is test-artifacts/web/overview-a4.pdf.
"""

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright import sync_api as playwright

from app.domain.attainment import SEVERITY
from tests.deploy.live import ROOT, attain_server, cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts" / "web"
API = "/api/v1"
WHEN = {"date": "2021-03-01"}  # history loaded today, judged as on 2021-03-01 (docs/ATTAINMENT.md "Two times")
WIDTHS = (1280, 390)


@dataclass
class Site:
    base: str
    key: str
    as_of: str
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.api = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)

    def get(self, path: str, **params: Any) -> Any:
        r = self.api.get(f"{API}{path}", params={**WHEN, "as_of": self.as_of, **params})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    assert CHROMIUM, "chromium is not installed (make test installs it: scripts/system-packages)"
    folder = tmp_path_factory.mktemp("web")
    with attain_server(folder) as (base, key):
        (folder / "key").write_text(key)
        cli(folder, "simulate", "--url", base, "--admin-key-file", str(folder / "key"))
        # as_of: a whole second after the simulation's last write, so the page and the API read the same revisions.
        time.sleep(1.1)
        site = Site(base, key, datetime.now(UTC).replace(microsecond=0).isoformat())
        yield site
        site.api.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Watched:
    """A signed-in page whose console errors, failed requests and foreign requests are recorded."""

    def __init__(self, browser: Any, site: Site, width: int) -> None:
        self.site = site
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.origins: set[str] = set()
        origin = urlparse(site.base)
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))

        def _request(r: Any) -> None:
            u = urlparse(r.url)
            if u.scheme in ("http", "https"):
                self.origins.add(f"{u.scheme}://{u.netloc}")

        self.page.on("request", _request)
        self.origin = f"{origin.scheme}://{origin.netloc}"
        self.page.goto(site.base + "/")
        assert "/signin" in self.page.url
        self.page.fill("input[name=key]", site.key)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str, **params: str) -> Any:
        query = "&".join(f"{k}={v}" for k, v in {**WHEN, "as_of": self.site.as_of, **params}.items())
        response = self.page.goto(f"{self.site.base}{path}?{query.replace('+', '%2B')}")
        self.page.wait_for_load_state("networkidle")
        assert response.status == 200, (path, response.status)
        return self.page

    def close(self) -> None:
        self.context.close()


def _chart_has_ink(page: Any) -> int:
    """How many non-blank pixels the ECharts canvas holds."""
    return int(page.evaluate("""() => {
        const c = document.querySelector('#chart canvas'); if (!c) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""))


def test_every_page_kind_renders_cleanly_at_desktop_and_phone_width(browser: Any, site: Site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = {"overview": "/", "action-2": "/actions/2", "department-jiaoyuzhuangbei": None,
             "district-370211": "/districts/370211", "indicator-t03": "/indicators/t03-campus-network-compliance",
             "indicator-t26": "/indicators/t26-rural-funding"}
    dept = next(d["code"] for d in site.api.get(f"{API}/departments").json() if "装备" in d["name_zh"])
    pages = {("department-" + dept if k.startswith("department") else k): (v or f"/departments/{dept}")
             for k, v in pages.items()}
    for width in WIDTHS:
        w = Watched(browser, site, width)
        try:
            for name, path in pages.items():
                page = w.open(path)
                assert page.evaluate("document.documentElement.lang") == "zh-CN"
                # Nothing sticks out sideways: wide tables scroll inside their own box.
                assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
                if path.startswith("/indicators/"):
                    page.wait_for_selector("#chart[data-rendered=true] canvas")
                    assert _chart_has_ink(page) > 2000, name
                page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            for path in ("/docs", "/redoc"):
                w.page.goto(site.base + path)
                w.page.wait_for_selector(".swagger-ui .info" if path == "/docs" else "redoc .api-content",
                                         timeout=30_000)
                w.page.wait_for_load_state("networkidle")
                w.page.screenshot(path=str(ARTIFACTS / f"{path.strip('/')}-{width}.png"))
        finally:
            w.close()
        assert w.problems == [], w.problems
        assert w.origins == {w.origin}, w.origins


def _api_rows(site: Site, **params: Any) -> list[dict[str, Any]]:
    return list(site.get("/attainment", **params)["rows"])


def _shown(value: float | None, unit: str) -> str:
    """The page's documented rounding: 2 decimals for percentages, 万元 for money, whole counts as integers."""
    if value is None:
        return "—"
    if unit == "yuan":
        return f"{value / 10000:,.2f}"
    if unit == "percent" or value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def test_numbers_on_the_pages_equal_the_json_api(browser: Any, site: Site) -> None:
    summary = site.get("/attainment/summary")
    w = Watched(browser, site, 1280)
    try:
        page = w.open("/")
        card = page.locator("#targets-by-status")
        assert card.locator("[data-count=total]").inner_text().startswith(str(summary["total"]["total"]))
        shown = {b.get_attribute("data-count"): int(b.inner_text()) for b in card.locator("b[data-count]").all()}
        assert shown == {s: n for s, n in summary["total"]["counts"].items() if n}
        for group in summary["by_action"]:
            row = page.locator(f"tr[data-action='{group['key']}']")
            assert row.locator("td[data-count=total]").inner_text() == str(group["total"])
            chips = {b.get_attribute("data-count"): int(b.inner_text()) for b in row.locator("b[data-count]").all()}
            assert chips == {s: n for s, n in group["counts"].items() if n}, group["key"]
        plan = site.get("/plan/summary")["total"]
        box = page.locator("#deliverables")
        assert box.locator("[data-count=total]").inner_text().startswith(str(plan["total"]))
        shown = {b.get_attribute("data-count"): int(b.inner_text()) for b in box.locator("b[data-count]").all()}
        assert shown == {s: n for s, n in plan["counts"].items() if n} and plan["total"] > 40
        rate = box.locator("[data-field=on_time_rate]").inner_text()
        assert rate == ("—" if plan["on_time_rate"] is None else f"{plan['on_time_rate']:.2f}")
        done = site.get("/attainment/summary")["completeness"]
        box = page.locator("#completeness")
        assert box.locator("[data-field=reported]").inner_text() == str(done["reported"])
        assert box.locator("[data-field=expected]").inner_text() == str(done["expected"])
        # The heat map: each district × indicator cell shows the worst status of that district's rows.
        rank = {s.value: i for i, s in enumerate(SEVERITY)}
        worst: dict[tuple[str, str], str] = {}
        for r in _api_rows(site):
            if r["unit_code"] != "370200" and r["unit_code"].startswith("3702"):
                key = (r["unit_code"], r["indicator"])
                worst[key] = min(worst.get(key, r["status"]), r["status"], key=rank.__getitem__)
        cells = page.locator("table.heat td[data-indicator]").all()
        seen = {}
        for cell in cells:
            unit = cell.locator("xpath=..").get_attribute("data-unit")
            tag = cell.locator(".tag")
            status = tag.get_attribute("data-status") if tag.count() else None
            seen[(unit, cell.get_attribute("data-indicator"))] = status
        assert {k: v for k, v in seen.items() if v} == worst
        assert all(cell.inner_text() == "—" for cell in cells if not cell.locator(".tag").count())

        code = "t03-campus-network-compliance"
        page = w.open(f"/indicators/{code}")
        yearly = site.get(f"/indicators/{code}/yearly")
        compared = 0
        for unit in yearly["units"]:
            for y in unit["years"]:
                cell = page.locator(f"#yearly tr[data-unit='{unit['unit_code']}'] td[data-year='{y['year']}']")
                assert cell.locator("[data-field=value]").inner_text() == _shown(y["value"], "percent")
                if y["complete"]:
                    assert cell.locator("[data-field=complete]").inner_text().startswith(
                        f"{y['complete']['reported']}/{y['complete']['expected']}")
                assert cell.locator("[data-field=incomplete]").count() == int(y["incomplete"])
                compared += 1
        assert compared == 33, yearly  # 2018–2020 for the city and its ten districts
        for r in _api_rows(site, indicator=code):
            row = page.locator(f"table.rows tr[data-target='{r['target_id']}'][data-unit='{r['unit_code']}']")
            assert row.locator("td.status .tag").get_attribute("data-status") == r["status"]
            actual = r["actual"]["value"] if r["actual"] else None
            assert row.locator("[data-field=actual]").inner_text().split("\n")[0] == _shown(actual, "percent")
            assert row.locator("[data-field=pace]").inner_text() == ("—" if r["pace"] is None else f"{r['pace']:.2f}")

        page = w.open("/actions/2")
        listed = site.get("/deliverables", action=2)
        items = listed["items"]
        shown_items = {r.get_attribute("data-deliverable"): r.locator(".tag").get_attribute("data-status")
                       for r in page.locator("table.deliverables tr[data-deliverable]").all()}
        assert shown_items == {d["code"]: d["status"] for d in items} and shown_items

        page = w.open("/districts/370283")
        mine = site.get("/attainment/summary", unit="370283")
        assert page.locator("#summary [data-count=total]").inner_text() == str(mine["total"]["total"])
        statuses = sorted(t.get_attribute("data-status") for t in page.locator("table.rows td.status .tag").all())
        assert statuses == sorted(r["status"] for r in _api_rows(site, unit="370283"))
    finally:
        w.close()
    assert w.problems == [], w.problems


def test_the_pickers_keep_date_and_as_of_in_the_url(browser: Any, site: Site) -> None:
    w = Watched(browser, site, 390)
    try:
        page = w.open("/districts/370202")
        page.fill("input[name=date]", "2020-06-30")
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the end of today: everything known
        page.fill("input[name=as_of]", today)
        page.click(".when button[type=submit]")
        page.wait_for_load_state("networkidle")
        query = parse_qs(urlparse(page.url).query)
        assert query["date"] == ["2020-06-30"] and query["as_of"] == [today]
        assert page.input_value("input[name=date]") == "2020-06-30"
        href = page.locator("table.rows a[href^='/indicators/']").first.get_attribute("href")
        assert "date=2020-06-30" in href and f"as_of={today}" in href
        page.goto(site.base + href)
        assert page.input_value("input[name=date]") == "2020-06-30"
    finally:
        w.close()
    assert w.problems == [], w.problems


def test_the_printed_overview_is_a4_and_names_every_action(browser: Any, site: Site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    w = Watched(browser, site, 1280)
    try:
        page = w.open("/")
        page.emulate_media(media="print")
        pdf = ARTIFACTS / "overview-a4.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
    finally:
        w.close()
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert len(sizes) >= 2, info  # the overview runs over several pages
    assert all(abs(float(w) - 595.28) < 1 and abs(float(h) - 841.89) < 1 for w, h in sizes), sizes  # A4 portrait
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())
    titles = [a["title_zh"] for a in site.api.get(f"{API}/actions").json()]
    assert len(titles) == 10
    missing = [t for t in titles if "".join(t.split()) not in squeezed]
    assert missing == [], missing
    assert "退出" not in text and "查看" not in text  # the controls stay off paper


def test_artifacts_folder_is_ignored_by_git() -> None:
    assert "test-artifacts/" in (ROOT / ".gitignore").read_text().splitlines()
