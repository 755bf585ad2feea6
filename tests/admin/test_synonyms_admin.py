"""The synonym file edited in /admin (and through the API): the next search uses it, without a
restart, and it is still there after one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.admin.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = "亲情账户怎么开通"


def _why(site, question: str = QUESTION) -> list[str]:
    body = site.client.get("/api/search", params={"q": question, "k": 5}).json()
    return [p["why"] for p in body["passages"]]


def test_an_edit_on_the_admin_page_changes_the_next_search(site) -> None:
    csrf = site.login()
    assert not any("亲情账户" in why for why in _why(site))
    page = site.client.get("/admin")
    assert 'id="synonyms-text"' in page.text and "异地 外地" in page.text
    saved = site.client.post("/admin/synonyms", data={"csrf": csrf, "text": "家庭共济 亲情账户\n"})
    assert saved.status_code == 200 and "同义词已保存" in saved.text
    assert any("同义词 亲情账户→家庭共济" in why for why in _why(site))
    assert site.settings.synonyms_file.read_text(encoding="utf-8") == "家庭共济 亲情账户\n"


def test_a_bad_file_is_refused_with_its_line_and_the_old_one_stays(site) -> None:
    csrf = site.login()
    before = site.settings.synonyms_file.read_text(encoding="utf-8")
    page = site.client.post("/admin/synonyms", data={"csrf": csrf, "text": "异地 外地\n外地 外省\n"})
    assert page.status_code == 422 and "第 1 行和第 2 行" in page.text
    assert site.settings.synonyms_file.read_text(encoding="utf-8") == before
    forged = site.client.post("/admin/synonyms", data={"csrf": "wrong", "text": "家庭共济 亲情账户\n"})
    assert forged.status_code == 403
    assert site.settings.synonyms_file.read_text(encoding="utf-8") == before


def test_the_api_edit_survives_a_restart(site, embedder) -> None:
    from server.app import create_app
    from server.engine import Engine

    assert site.client.put("/api/admin/synonyms", json={"text": "家庭共济 亲情账户"}).status_code == 401
    put = site.client.put("/api/admin/synonyms", json={"text": "家庭共济 亲情账户\n"}, headers=AUTH)
    assert put.status_code == 200 and put.json()["groups"] == [["家庭共济", "亲情账户"]]
    bad = site.client.put("/api/admin/synonyms", json={"text": "只有一个词\n"}, headers=AUTH)
    assert bad.status_code == 422 and "只有一个词" not in site.settings.synonyms_file.read_text(
        encoding="utf-8"
    )
    with TestClient(create_app(site.settings, Engine(site.settings, embedder))) as restarted:
        got = restarted.get("/api/admin/synonyms", headers=AUTH).json()
        assert got["groups"] == [["家庭共济", "亲情账户"]]
        passages = restarted.get("/api/search", params={"q": QUESTION, "k": 5}).json()["passages"]
        assert any("同义词 亲情账户→家庭共济" in p["why"] for p in passages)
