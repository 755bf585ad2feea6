"""Done-when, in headless Chromium (no JavaScript) against `yibao serve` on the corpus: log in to
/admin, start two evaluations, watch a job to the end, read the report's per-question table and
charts, compare the two runs, and try a question on the retrieval test page."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.hardening.conftest import ServerProcess, subprocess_env
from tests.server import test_browser
from tests.server.test_browser import admin_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-eval-token"
LIMIT = "12"
browser = test_browser.browser  # the module's Chromium, shared


@pytest.fixture
def server(settings, retriever, tmp_path: Path):
    """The corpus and a copy of the session's index, the admin enabled."""
    shutil.copytree(settings.index_dir, tmp_path / "data" / "index")
    env = subprocess_env(settings.corpus_dir, tmp_path / "data", YIBAO_ADMIN_TOKEN=TOKEN)
    process = ServerProcess.start(env, tmp_path / "serve.log")
    yield process
    process.stop()


def _shot(page: Page, name: str, tmp_path: Path, full_page: bool = True) -> None:
    """Into YIBAO_EVAL_SCREENSHOTS (README's pictures: docs/) when set."""
    folder = Path(os.environ.get("YIBAO_EVAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=full_page)
    assert (folder / name).stat().st_size > 10_000


def _evaluate(page: Page, base: str, retriever: str) -> None:
    """Start an evaluation from /admin and follow its job page (it reloads itself) to the end."""
    page.goto(f"{base}/admin")
    form = page.locator("#evaluate form")
    form.locator("#retriever").select_option(retriever)
    form.locator("#limit").fill(LIMIT)
    form.get_by_role("button", name="开始评测").click()
    page.wait_for_url("**/admin/jobs/*")
    expect(page.locator("#job h2")).to_contain_text(f"前 {LIMIT} 题")
    expect(page.locator("#job .state")).to_contain_text("完成 done", timeout=240_000)
    total = int(LIMIT) * (4 if retriever == "compare" else 1)
    expect(page.locator("#job .progress-text")).to_contain_text(f"{total} / {total} questions")


def test_evaluate_in_the_browser_and_read_the_report(server: ServerProcess, browser, tmp_path: Path) -> None:
    base = server.base
    with admin_page(browser, base, TOKEN, width=1200) as page:
        expect(page.locator("#evaluate")).to_be_visible()
        _evaluate(page, base, "lexical")
        _evaluate(page, base, "compare")
        _shot(page, "eval-job.png", tmp_path)
        page.get_by_role("link", name="查看评测报告 →").click()
        page.wait_for_url("**/eval?run=*")

        rows = page.locator("table.questions tbody tr")
        expect(rows).to_have_count(int(LIMIT))
        headers = page.locator("table.questions thead th").all_inner_texts()
        assert headers[:6] == ["id", "问题", "首个相关段落排名", "答案含证据", "拒答", "延迟 ms"]
        for name in ("dense", "lexical", "hybrid", "hybrid-no-mmr"):
            expect(page.locator("table.metrics thead")).to_contain_text(name)
        expect(page.locator("svg.chart")).to_have_count(3)
        _shot(page, "eval-report.png", tmp_path)

        misses = page.locator("p.filter a", has_text="只看未命中")
        wanted = int(misses.inner_text().split()[1])
        misses.click()
        expect(rows).to_have_count(wanted)
        if wanted:
            expect(page.locator("table.questions tbody tr.fail")).to_have_count(wanted)

        expect(page.locator("table.runs tbody tr")).to_have_count(2)
        page.get_by_role("button", name="比较两次评测").click()
        page.wait_for_url("**/eval/compare?*")
        expect(page.locator("table.metrics")).to_contain_text("hit@1")
        _shot(page, "eval-compare.png", tmp_path)

        page.goto(f"{base}/")
        page.get_by_role("link", name="检索测试").click()
        page.locator("#q").fill("在厦门交的医保去其他城市能用吗")
        page.get_by_role("button", name="检索").click()
        page.wait_for_url("**/retrieval?q=*")
        for mode in ("dense", "lexical", "hybrid"):
            column = page.locator(f"#col-{mode}")
            expect(column.locator("li.hit")).to_have_count(5)
            expect(column.locator(".score").first).to_have_text(re.compile(r"\d\.\d{3}"))
        expect(page.locator("#col-lexical .why").first).to_contain_text("BM25")
        expect(page.locator("#col-dense .why").first).to_contain_text("cos")
        _shot(page, "retrieval.png", tmp_path, full_page=False)
