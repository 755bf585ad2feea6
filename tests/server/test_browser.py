"""End to end in headless Chromium: ask, read the answer, follow a citation, and on a phone."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.textnorm import is_traditional
from settings import ROOT

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian package `chromium`)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "醫保卡餘額能不能提現"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


@contextlib.contextmanager
def admin_page(browser, base: str, token: str, width: int = 1100) -> Iterator[Page]:
    """A page without JavaScript, logged in to /admin through its form; no response may be a 5xx."""
    context = browser.new_context(
        viewport={"width": width, "height": 1000}, locale="zh-CN", java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    server_errors: list[str] = []
    page.on("response", lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    try:
        page.goto(f"{base}/admin")
        assert page.url.endswith("/admin/login")
        page.locator("#token").fill(token)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("h2", has_text="文档管理")).to_be_visible()
        yield page
    finally:
        context.close()
    assert not server_errors, server_errors


@pytest.fixture
def new_page(browser):
    contexts = []

    def _new(width: int, height: int, **options) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield _new
    for context in contexts:
        context.close()


def test_ask_read_the_answer_and_follow_a_citation(live_server, new_page, tmp_path):
    page = new_page(1000, 1300)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{live_server}/")
    expect(page.locator("h2", has_text="试试这些问题")).to_be_visible()

    box = page.get_by_role("searchbox")
    box.fill(QUESTION)
    with page.expect_navigation():
        box.press("Enter")
    answer = page.locator("#answer .text")
    expect(answer).to_be_visible()

    text = answer.inner_text().strip()
    assert text and "资料中未找到" not in text
    assert is_traditional(text), text
    assert page.locator("#q").input_value() == QUESTION
    disclaimer = page.locator("#answer .disclaimer")
    expect(disclaimer).to_be_visible()
    expect(disclaimer).to_contain_text("仅供参考")
    expect(page.locator("article.card").first).to_be_visible()
    assert page.locator("mark").count() > 0

    shot = Path(os.environ.get("YIBAO_SCREENSHOT") or tmp_path / "answer.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    # A short window, so that the first source card starts out of sight and the link must scroll.
    page.set_viewport_size({"width": 1000, "height": 420})
    page.evaluate("window.scrollTo(0, 0)")
    card = page.locator("#src-1")
    expect(card).not_to_be_in_viewport()
    link = page.locator('#answer a.cite[href="#src-1"]').first
    expect(link).to_have_text("[1]")
    link.click()
    page.wait_for_function("location.hash === '#src-1'")
    assert page.url.endswith("#src-1")
    expect(card).to_be_in_viewport()
    box_ = card.bounding_box()
    # Scrolled to the top of the window, give or take a sub-pixel.
    assert box_ is not None and -1 < box_["y"] < page.evaluate("window.innerHeight")
    assert not errors, errors


@pytest.mark.parametrize("path", ["/", f"/?q={QUESTION}", "/?q=红烧肉怎么做"])
def test_no_horizontal_scroll_on_a_phone(live_server, new_page, path):
    page = new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(f"{live_server}{path}")
    expect(page.locator("#q")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner + 1, (width, inner)
    # The question box and its button sit within the screen.
    for selector in ("#q", "form.ask button[type=submit]"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner + 1


def test_the_page_works_without_javascript(live_server, new_page):
    page = new_page(1000, 900, java_script_enabled=False)
    page.goto(f"{live_server}/")
    page.locator("#q").fill("红烧肉怎么做")
    page.get_by_role("button", name="提问").click()
    page.wait_for_url("**/?q=*")
    expect(page.locator("#answer")).to_contain_text("资料中未找到相关内容")
    expect(page.locator("#answer .disclaimer")).to_contain_text("仅供参考")


def test_a_list_answer_and_its_citation_opens_the_source_at_the_quoted_place(live_server, new_page, tmp_path):
    """A which-cases question gets the cases as a list; the source link opens the document view
    with exactly the cited span ``doc[start:end]`` marked and scrolled into view."""
    page = new_page(1000, 1100)
    page.goto(f"{live_server}/?q=医保卡里的钱什么情况下可以取出来")
    items = page.locator("#answer ul.items li")
    expect(items.first).to_be_visible()
    assert items.count() >= 3
    shot = Path(os.environ.get("YIBAO_LIST_SCREENSHOT") or tmp_path / "list.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))

    link = page.locator("#src-1 a.open-doc")
    href = link.get_attribute("href")
    assert href is not None
    link.click()
    page.wait_for_url("**/doc/**#quote")
    cited = "".join(page.locator("mark.cited").all_inner_texts())
    doc = href.split("/doc/", 1)[1].split("?", 1)[0]
    start, end = (int(v.split("=")[1]) for v in href.split("?", 1)[1].split("#")[0].split("&"))
    source = (ROOT / "corpus" / doc).read_text(encoding="utf-8-sig")
    # The browser shows what it marked: the cited span, chunk labels aside.
    assert " ".join(cited.split()) == " ".join(source[start:end].split())
    expect(page.locator("#quote")).to_be_in_viewport()


def test_a_list_of_steps_shows_which_way_it_is_for(live_server, new_page):
    """The steps under a bare 「步骤:」 carry the heading above them as a caption, beside the quote."""
    page = new_page(1000, 900)
    page.goto(f"{live_server}/?q=石家庄去医保窗口怎么查余额")
    caption = page.locator("#answer .block .caption").first
    expect(caption).to_be_visible()
    assert caption.inner_text().strip() == "医保经办机构窗口查询"
    expect(page.locator("#answer .block").first).to_contain_text("步骤:")


def test_the_ways_to_look_the_balance_up_are_listed_each_under_its_heading(live_server, new_page):
    page = new_page(1000, 900)
    page.goto(f"{live_server}/?q=医保卡余额怎么查")
    captions = page.locator("#answer ul.items li .caption")
    expect(captions.first).to_be_visible()
    assert captions.count() >= 3
    assert any("电话" in text for text in captions.all_inner_texts())
