"""Done-when, in headless Chromium against `yibao serve`: log in to /admin, upload a long document
and watch its job's progress, cancel it; upload a GB18030 text, a Word file and a PDF and follow
the job to done, ask what only the PDF answers (its citation shows the page), delete the Word
file and see its answer go, mark an answer unhelpful and find it in /admin, log out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.admin.test_admin import GBK_TEXT, _docx, _pdf
from tests.hardening.conftest import RULES_DOC, ServerProcess, Tiny, rules_text
from tests.server import test_browser
from tests.server.test_browser import admin_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-admin-token"
PDF_QUESTION = "生育津贴按照什么标准计发"
DOCX_QUESTION = "门诊统筹年度报销限额是多少"
browser = test_browser.browser  # the module's Chromium, shared


@pytest.fixture
def server(tiny: Tiny, tmp_path: Path):
    # Small embedding windows: a job's progress shows within a second or two of embedding.
    env = tiny.env(YIBAO_ADMIN_TOKEN=TOKEN, YIBAO_EMBED_WINDOW="32")
    process = ServerProcess.start(env, tmp_path / "serve.log")
    yield process
    process.stop()


def _ask(page: Page, base: str, question: str) -> None:
    page.goto(f"{base}/")
    page.locator("#q").fill(question)
    with page.expect_navigation():
        page.get_by_role("button", name="提问").click()
    expect(page.locator("#answer")).to_be_visible()


def _shot(page: Page, variable: str, default: Path) -> None:
    """Into the file ``variable`` names (README's pictures: docs/) when set."""
    shot = Path(os.environ.get(variable) or default)
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def _follow(page: Page) -> None:
    """From an admin form to its job's page, which reloads itself until the job is done."""
    page.wait_for_url("**/admin/jobs/*")
    expect(page.locator("#job .state")).to_contain_text("完成 done", timeout=240_000)


def test_admin_upload_ask_delete_feedback_logout(server: ServerProcess, browser, tmp_path: Path) -> None:
    files = tmp_path / "upload"
    files.mkdir()
    (files / "补办须知.txt").write_bytes(GBK_TEXT.encode("gb18030"))
    (files / "outpatient.docx").write_bytes(_docx(tmp_path))
    (files / "maternity.pdf").write_bytes(_pdf(tmp_path))
    base = server.base
    (tmp_path / RULES_DOC).write_text(rules_text(400), encoding="utf-8")
    with admin_page(browser, base, TOKEN) as page:
        page.locator("#files").set_input_files(str(tmp_path / RULES_DOC))
        page.get_by_role("button", name="上传并导入").click()
        page.wait_for_url("**/admin/jobs/*")
        expect(page.locator("#job .state")).to_contain_text("运行中 running · 嵌入", timeout=120_000)
        # A rate (so an ETA) once the first window is embedded.
        expect(page.locator("#job .progress-text")).to_contain_text("texts/s", timeout=120_000)
        expect(page.locator("#job .progress-text")).to_contain_text("预计还需")
        expect(page.locator("#job")).to_contain_text(RULES_DOC)
        _shot(page, "YIBAO_JOB_SCREENSHOT", tmp_path / "job.png")
        page.get_by_role("button", name="取消任务").click()
        expect(page.locator("#job .state")).to_contain_text("已取消 cancelled")
        page.goto(f"{base}/admin")
        expect(page.locator("table.jobs")).to_contain_text("已取消 cancelled")
        expect(page.locator("table.docs")).not_to_contain_text(RULES_DOC)

        page.locator("#files").set_input_files([str(p) for p in sorted(files.iterdir())])
        page.get_by_role("button", name="上传并导入").click()
        _follow(page)
        expect(page.locator("#job .notice")).to_contain_text("已上传并导入")
        page.goto(f"{base}/admin")
        table = page.locator("table.docs")
        for name in ("补办须知.txt", "outpatient.docx", "maternity.pdf"):
            expect(table).to_contain_text(name)
        expect(table).to_contain_text("gb18030")
        _shot(page, "YIBAO_ADMIN_SCREENSHOT", tmp_path / "admin.png")

        _ask(page, base, PDF_QUESTION)
        expect(page.locator("#answer .text")).to_be_visible()
        card = page.locator("#src-1")
        expect(card).to_contain_text("maternity.pdf")
        expect(card.locator(".page")).to_have_text("第 2 页")

        _ask(page, base, DOCX_QUESTION)
        expect(page.locator("#src-1")).to_contain_text("outpatient.docx")

        page.goto(f"{base}/admin")
        page.get_by_role("button", name="删除 outpatient.docx").click()
        _follow(page)
        expect(page.locator("#job .notice")).to_contain_text("已删除 / deleted: outpatient.docx")
        page.goto(f"{base}/admin")
        expect(page.locator("table.docs")).not_to_contain_text("outpatient.docx")
        _ask(page, base, DOCX_QUESTION)
        expect(page.locator("main")).not_to_contain_text("outpatient.docx")
        expect(page.locator("#answer")).not_to_contain_text("二千元")

        _ask(page, base, PDF_QUESTION)
        page.get_by_role("button", name="没帮助").click()
        expect(page.locator(".message")).to_contain_text("谢谢")
        page.goto(f"{base}/admin")
        expect(page.locator(".problems")).to_contain_text(PDF_QUESTION)

        page.get_by_role("button", name="退出登录").click()
        assert page.url.endswith("/admin/login")
        page.goto(f"{base}/admin")
        assert page.url.endswith("/admin/login"), "logged out: the admin asks for the token again"
