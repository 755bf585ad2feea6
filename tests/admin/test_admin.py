"""The admin pages and API: who gets in, uploads of every kind, deletes, re-ingest (each a job,
followed to its end), and every refused request or failed job leaving the corpus and the index
exactly as they were."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.admin.conftest import AUTH, TOKEN, Site, make_site
from tests.docfiles import write_blank_pdf, write_docx, write_pdf

GBK_TEXT = (
    "医保卡丢失后怎么补办\n\n补办医保卡需要携带本人身份证原件，到社保服务大厅的补卡窗口办理，工本费二十元。\n"
)
PDF_PAGES = [
    ["生育津贴领取指南", "女职工生育享受产假期间，可以按照规定领取生育津贴。" * 4],
    ["计发标准", "生育津贴按照职工所在用人单位上年度职工月平均工资计发，由生育保险基金支付。" * 4],
]


def _pdf(tmp_path: Path) -> bytes:
    return write_pdf(tmp_path / "made.pdf", PDF_PAGES).read_bytes()


def _docx(tmp_path: Path) -> bytes:
    sections = [
        ("门诊统筹报销", ["职工在定点医院门诊看病，门诊统筹年度报销限额为二千元，报销比例百分之五十。"])
    ]
    return write_docx(
        tmp_path / "made.docx", "门诊待遇说明", sections, [["项目", "限额"], ["门诊", "2000元"]]
    ).read_bytes()


def _state(site: Site) -> tuple[set[str], str, set[str]]:
    """What must not change when a request is refused: corpus files, live version, indexed docs."""
    return site.corpus(), site.live(), site.indexed()


def _upload(site: Site, *files: tuple[str, bytes], **data: str):
    return site.client.post(
        "/api/admin/documents",
        headers=AUTH,
        data=data,
        files=[("files", (n, b, "application/octet-stream")) for n, b in files],
    )


def test_admin_is_a_clear_403_while_the_token_is_unset(tiny_template, tmp_path, settings, embedder) -> None:
    for site in make_site(tiny_template, tmp_path, settings, embedder, admin_token=""):
        page = site.client.get("/admin")
        assert page.status_code == 403 and "YIBAO_ADMIN_TOKEN" in page.text and "管理功能未启用" in page.text
        assert site.client.get("/admin/login").status_code == 403
        api = site.client.get("/api/admin/documents", headers=AUTH)
        assert api.status_code == 403 and "YIBAO_ADMIN_TOKEN" in api.json()["detail"]


def test_nothing_without_logging_in(site: Site) -> None:
    before = _state(site)
    assert site.client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    page = site.client.post("/admin/upload", files=[("files", ("a.txt", GBK_TEXT.encode(), "text/plain"))])
    assert page.status_code == 401 and "请先登录" in page.text
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = site.client.post(
            "/api/admin/documents", headers=headers, files=[("files", ("a.txt", b"x"))]
        )
        assert response.status_code == 401 and "token" in response.json()["detail"]
    assert site.client.delete("/api/admin/documents?doc=base.txt").status_code == 401
    assert site.client.get("/admin/questions.jsonl", follow_redirects=False).status_code == 303
    assert _state(site) == before


def test_login_sets_a_strict_http_only_cookie_and_logout_ends_the_session(site: Site) -> None:
    wrong = site.client.post("/admin/login", data={"token": "nope", "csrf": site.csrf("/admin/login")})
    assert wrong.status_code == 401 and "令牌不对" in wrong.text
    forged = site.client.post("/admin/login", data={"token": TOKEN, "csrf": "forged"})
    assert forged.status_code == 403
    response = site.client.post(
        "/admin/login", data={"token": TOKEN, "csrf": site.csrf("/admin/login")}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "yibao_admin=" in v)
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
        and "Path=/admin" in cookie
    )
    csrf = site.csrf()
    assert site.client.post("/admin/logout", data={"csrf": "forged"}).status_code == 403
    out = site.client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    site.client.cookies.set("yibao_admin", cookie.split(";")[0].split("=", 1)[1], path="/admin")
    assert site.client.get("/admin", follow_redirects=False).status_code == 303, (
        "a logged-out session is dead"
    )


def test_upload_from_the_page_indexes_every_format_and_lists_it(site: Site, tmp_path: Path) -> None:
    csrf = site.login()
    files = [
        ("files", ("补办 指南（2024）.txt", GBK_TEXT.encode("gb18030"), "text/plain")),
        ("files", ("outpatient.docx", _docx(tmp_path), "application/octet-stream")),
        ("files", ("maternity.pdf", _pdf(tmp_path), "application/pdf")),
    ]
    page = site.client.post("/admin/upload", data={"csrf": csrf}, files=files)
    assert page.status_code == 200 and "上传并导入" in page.text  # the job's page, following it
    job = site.finished(page)
    assert job["state"] == "done" and job["kind"] == "upload", job
    assert sorted(job["files"]) == sorted(name for _, (name, _, _) in files)
    assert job["progress"]["total"] == job["progress"]["done"] > 0 and job["progress"]["unit"] == "texts"
    assert "已上传并导入" in site.client.get(page.url.path).text
    assert (
        site.corpus()
        == site.indexed()
        == {"base.txt", "补办 指南（2024）.txt", "outpatient.docx", "maternity.pdf"}
    )
    page = site.client.get("/admin")
    assert (site.corpus_dir / "补办 指南（2024）.txt").read_bytes() == GBK_TEXT.encode("gb18030")
    listing = {d["doc"]: d for d in site.client.get("/api/admin/documents", headers=AUTH).json()["documents"]}
    assert listing["maternity.pdf"]["pages"] == 2 and listing["maternity.pdf"]["kind"] == "pdf"
    assert listing["补办 指南（2024）.txt"]["encoding"] == "gb18030"
    assert listing["outpatient.docx"]["title"] == "门诊待遇说明" and listing["outpatient.docx"]["chunks"] >= 1
    for doc in listing:
        assert doc in page.text
    answer = site.client.post("/api/ask", json={"question": "生育津贴按照什么标准计发"}).json()
    assert not answer["abstained"]
    first = answer["citations"][0]
    assert first["doc"] == "maternity.pdf" and first["page"] == 2
    stored = site.engine.answerer.retriever.index.document("maternity.pdf")
    assert stored.text[first["start"] : first["end"]] == first["text"]
    assert "第 2 页" in site.client.get("/?q=生育津贴按照什么标准计发").text


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../escape.txt", 422),
        ("/etc/cron.d/x.txt", 422),
        ("sub/dir.txt", 422),
        ("back\\slash.txt", 422),
        ("nul\x00byte.txt", 422),
        ("..", 422),
        (".hidden.txt", 422),
        ("a" * 300 + ".txt", 422),
        ("文" * 120 + ".txt", 422),
        ("tab\there.txt", 422),
        ("rtl\u202etxt.exe", 422),
        (" spaced.txt", 422),
        ("program.exe", 415),
        ("sheet.xlsx", 415),
        ("noextension", 415),
    ],
)
def test_bad_names_and_types_are_refused_and_change_nothing(site: Site, name: str, status: int) -> None:
    before = _state(site)
    # Written by hand: an HTTP client would percent-escape the control characters of the name.
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="' + name.encode() + b'"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + GBK_TEXT.encode() + b"\r\n--XyZ--\r\n"
    )
    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=XyZ"}
    response = site.client.post("/api/admin/documents", headers=headers, content=body)
    assert response.status_code == status, response.text
    assert "/ " in response.json()["detail"]  # Chinese, then English
    assert _state(site) == before
    assert sorted(p.name for p in site.corpus_dir.parent.iterdir()) == ["corpus", "data"]


def test_unicode_names_are_kept_as_given(site: Site) -> None:
    name = "医保 指南（2024）·第2版.txt"
    assert site.finished(_upload(site, (name, GBK_TEXT.encode())))["state"] == "done"
    assert name in site.corpus() and name in site.indexed()


def test_bad_uploads_from_the_page_are_clear_4xx_and_change_nothing(site: Site) -> None:
    csrf = site.login()
    before = _state(site)
    cases = [
        ({"csrf": "forged"}, ("ok.txt", GBK_TEXT.encode()), 403, "CSRF"),
        ({"csrf": csrf}, ("../ok.txt", GBK_TEXT.encode()), 422, "路径"),
        ({"csrf": csrf}, ("ok.exe", GBK_TEXT.encode()), 415, "不支持"),
        ({"csrf": csrf}, ("base.txt", GBK_TEXT.encode()), 409, "覆盖"),
        ({"csrf": csrf}, ("empty.txt", b""), 422, "空"),
    ]
    for data, (name, body), status, says in cases:
        response = site.client.post("/admin/upload", data=data, files=[("files", (name, body, "text/plain"))])
        assert response.status_code == status, (name, response.status_code)
        assert says in response.text, (name, response.text[-800:])
        assert _state(site) == before
    assert site.client.get("/api/admin/jobs", headers=AUTH).json()["jobs"] == [], "nothing was queued"


def test_files_that_cannot_be_read_fail_their_job_with_the_reason_and_change_nothing(
    site: Site, tmp_path: Path
) -> None:
    """Reading is the job's: its page says which file and why, and nothing changed."""
    csrf = site.login()
    before = _state(site)
    cases = [
        ("scan.pdf", write_blank_pdf(tmp_path / "s.pdf").read_bytes(), "OCR"),
        ("latin.txt", "café crème brûlée".encode("latin-1"), "GB18030"),
    ]
    for name, body, says in cases:
        page = site.client.post(
            "/admin/upload", data={"csrf": csrf}, files=[("files", (name, body, "text/plain"))]
        )
        job = site.finished(page)
        assert job["state"] == "failed", job
        assert name in job["reason"] and says in job["reason"] and "nothing changed" in job["reason"], job
        shown = site.client.get(page.url.path).text
        assert "失败 failed" in shown and says in shown
        assert _state(site) == before
    assert not (site.corpus_dir / ".yibao-staging").exists()


def test_too_big_uploads_are_413_and_change_nothing(tiny_template, tmp_path, settings, embedder) -> None:
    for site in make_site(
        tiny_template, tmp_path, settings, embedder, admin_token=TOKEN, max_upload_bytes=4096
    ):
        before = _state(site)
        response = _upload(site, ("big.txt", ("医保" * 2000).encode()))
        assert response.status_code == 413 and "upload too large" in response.json()["detail"]
        assert _state(site) == before


def test_overwrite_needs_confirming(site: Site) -> None:
    assert _upload(site, ("base.txt", GBK_TEXT.encode())).status_code == 409
    job = site.finished(_upload(site, ("base.txt", GBK_TEXT.encode()), overwrite="true"))
    assert job["state"] == "done" and job["result"]["changed"] == ["base.txt"]
    assert (site.corpus_dir / "base.txt").read_text(encoding="utf-8") == GBK_TEXT
    assert site.engine.answerer.retriever.index.document("base.txt").title == "医保卡丢失后怎么补办"


def test_delete_removes_file_and_answers_at_once(site: Site) -> None:
    assert site.finished(_upload(site, ("buban.txt", GBK_TEXT.encode("gb18030"))))["state"] == "done"
    question = {"question": "医保卡丢了怎么补办"}
    assert site.client.post("/api/ask", json=question).json()["citations"][0]["doc"] == "buban.txt"
    assert site.client.delete("/api/admin/documents?doc=nothere.txt", headers=AUTH).status_code == 404
    job = site.finished(site.client.delete("/api/admin/documents?doc=buban.txt", headers=AUTH))
    assert job["state"] == "done" and job["kind"] == "delete" and job["result"]["removed"] == ["buban.txt"]
    assert "buban.txt" not in site.corpus() | site.indexed()
    assert all(
        c["doc"] != "buban.txt" for c in site.client.post("/api/ask", json=question).json()["citations"]
    )


def test_reingest_picks_up_files_dropped_into_the_corpus_dir(site: Site) -> None:
    (site.corpus_dir / "dropped.txt").write_text(GBK_TEXT, encoding="utf-8")
    (site.corpus_dir / "notes.csv").write_text("a,b\n", encoding="utf-8")
    job = site.finished(site.client.post("/api/admin/ingest", headers=AUTH))
    assert job["state"] == "done" and job["result"]["changed"] == ["dropped.txt"]
    assert "dropped.txt" in site.indexed()
    listing = site.client.get("/api/admin/documents", headers=AUTH).json()
    assert listing["skipped"] == [{"doc": "notes.csv", "reason": listing["skipped"][0]["reason"]}]
    assert "not a supported type" in listing["skipped"][0]["reason"]


def test_a_failed_ingest_leaves_corpus_and_index_as_they_were(site: Site) -> None:
    before = _state(site)
    # Where the new index's pointer is written, a folder: the index cannot be written.
    blocker = site.settings.index_dir / "CURRENT.tmp"
    blocker.mkdir()
    job = site.finished(_upload(site, ("buban.txt", GBK_TEXT.encode())))
    assert job["state"] == "failed" and "the previous index is kept as it was" in job["reason"], job
    shutil.rmtree(blocker)
    assert _state(site) == before
    assert not (site.corpus_dir / ".yibao-staging").exists()
    assert site.finished(_upload(site, ("buban.txt", GBK_TEXT.encode())))["state"] == "done"  # the next works
