"""The console in a real browser: Debian's headless Chromium driven by Playwright, against the local world after
the demo's story. Signs in through the Slack stand-in's OpenID Connect, walks every page, checks what the story put
there, checks that a viewer of stage sees nothing of prod (pages and direct URLs), saves a screenshot of each page
under build/screenshots/ (docs/console/ holds the committed ones)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from localworld import demo
from localworld.world import World

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser installs it as root with apt-get): "
                    "the console's browser tests did not run")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev)")
    return playwright


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    sync_api = _browser()
    with World(workdir=tmp_path_factory.mktemp("world")) as world:
        steps = demo.run(world, say=lambda line: None)
        assert [s.title for s in steps if not s.ok] == []
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                yield world, browser
            finally:
                browser.close()


def sign_in(world, browser, handle: str, page_name: str = "estate"):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{world.console_url}/{page_name}")
    # the stand-in's sign-in page lists the directory: pick the person (a link, no script)
    page.get_by_role("link", name=handle, exact=True).click()
    page.wait_for_url(f"{world.console_url}/{page_name}")
    return context, page


def test_admin_walks_every_page_and_sees_the_story(story):
    world, browser = story
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page = sign_in(world, browser, "root")
    cookie = next(c for c in context.cookies() if c["name"] == "sb_console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    texts = {}
    for name in ("estate", "incidents", "changes", "audit", "dora"):
        response = page.goto(f"{world.console_url}/{name}")
        assert response.status == 200, name
        csp = response.headers["content-security-policy"]
        assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert page.locator("script").count() == 0
        assert page.locator("nav a[aria-current=page]").inner_text().lower() == name
        texts[name] = page.locator("main").inner_text()
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert "web" in texts["estate"] and "api" in texts["estate"] and "prod" in texts["estate"]
    assert "web-5xx" in texts["incidents"]
    assert "Silences" in texts["incidents"]
    assert "rotation" in texts["audit"] and "promotion" in texts["audit"]
    assert page.locator("svg.plot").count() >= 1  # the DORA page's plots
    # the audit page filters by GET parameters
    page.goto(f"{world.console_url}/audit?capability=promotion")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() > 0
    assert all(rows.nth(i).locator("td").nth(2).inner_text() == "promotion" for i in range(rows.count()))
    context.close()


def test_a_stage_viewer_sees_nothing_of_prod(story):
    world, browser = story
    context, page = sign_in(world, browser, "sam", "audit")
    text = page.locator("main").inner_text()
    assert "stage" in text
    cells = page.locator("table.audit tbody tr td:nth-child(2)").all_inner_texts()
    assert cells and set(cells) <= {"stage"}
    shown = {}
    for name in ("estate", "incidents", "changes", "audit"):
        page.goto(f"{world.console_url}/{name}")
        main = page.locator("main").inner_text()
        assert "333344445555" not in main and "prod-alerts" not in main, name  # prod's account id, prod's receiver
        shown[name] = {page.locator("[data-environment]").nth(i).get_attribute("data-environment")
                       for i in range(page.locator("[data-environment]").count())}
        assert shown[name] <= {"stage"}, name
    assert shown["incidents"] == {"stage"} and shown["audit"] == {"stage"}  # stage's own story is there
    page.goto(f"{world.console_url}/dora")
    assert "web" not in page.locator("main h2").all_inner_texts()  # web reaches prod only: its DORA is prod's
    response = page.goto(f"{world.console_url}/incidents?environment=prod")
    assert response.status == 403
    response = page.goto(f"{world.console_url}/audit?page=eyJhbGciOiJIUzI1NiJ9.eyJ0eXAiOiJjdXJzb3IifQ.forged")
    assert response.status == 400 and "not valid" in page.locator("main").inner_text()  # a forged next-page link
    response = page.goto(f"{world.console_url}/audit?account=prod")
    assert "prod" not in " ".join(page.locator("table.audit tbody td:nth-child(2)").all_inner_texts())
    context.close()


def test_without_a_session_every_page_asks_to_sign_in_and_forged_cookies_do_not_count(story):
    world, browser = story
    context = browser.new_context()
    page = context.new_page()
    context.add_cookies([{"name": "sb_console", "value": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJVMEFETUlOMDAxIn0.",
                          "url": world.console_url}])
    page.goto(f"{world.console_url}/audit")
    assert "openid/connect/authorize" in page.url  # sent to Slack's (the stand-in's) sign-in, not shown the page
    context.close()


def test_screenshots_are_kept(story):
    docs = ROOT / "docs" / "console"
    if (SHOTS / "estate.png").exists():
        docs.mkdir(parents=True, exist_ok=True)
        for shot in SHOTS.glob("*.png"):
            shutil.copy(shot, docs / shot.name) if not (docs / shot.name).exists() else None
    assert (SHOTS / "estate.png").exists()
