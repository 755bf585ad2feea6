"""A damaged new index is refused by the server and said so; the next ingest keeps the last good
version to go back to, never the damaged one."""

from __future__ import annotations

import shutil

from index import store
from index.build import build_index

from .conftest import TOKEN, Site

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_a_refused_index_is_reported_and_the_next_ingest_keeps_the_last_good_one(site: Site) -> None:
    index_dir = site.settings.index_dir
    good = store.current_version(index_dir)
    damaged = index_dir / "v9999999999999999999-1"
    shutil.copytree(good, damaged)
    (damaged / "vectors.npy").write_bytes(b"\x93NUMPY garbage")
    (index_dir / "CURRENT").write_text(damaged.name)

    response = site.client.post("/api/admin/reload", headers=BEARER)
    assert response.status_code == 409
    body = response.json()
    assert body["reloaded"] is False and "damaged" in body["error"] and "损坏" in body["error"]
    assert body["index_version"] == good.name
    health = site.client.get("/healthz").json()
    assert health["index_version"] == good.name and health["refused_version"] == damaged.name
    assert site.client.post("/api/ask", json={"question": "家庭共济怎么绑定"}).status_code == 200

    added = "门诊慢特病待遇认定后，可在定点医院直接结算。\n"
    (site.corpus_dir / "新增.txt").write_text(added, encoding="utf-8")
    report = build_index(site.settings, site.engine.embedder)
    assert "新增.txt" in report.changed_docs
    new = store.current_version(index_dir)
    versions = {p.name for p in index_dir.iterdir() if p.is_dir()}
    assert versions == {new.name, good.name}  # the damaged one is gone, the last good one kept

    response = site.client.post("/api/admin/reload", headers=BEARER)
    assert response.status_code == 200 and response.json()["reloaded"] in (True, False)
    health = site.client.get("/healthz").json()
    assert health["index_version"] == new.name and "refused_version" not in health
