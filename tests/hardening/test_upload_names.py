"""Upload names are judged by their NFKC form, what they look like: ``．．／`` is a path and
refused; a name that only looks like an existing one (``ｂａｓｅ.txt`` full-width, ``bаse.txt`` with a
Cyrillic а) is refused, so that no two files pass for one; a name is otherwise kept as given."""

from __future__ import annotations

from tests.admin.conftest import TOKEN, Site

from .conftest import BASE_DOC

BEARER = {"Authorization": f"Bearer {TOKEN}"}
TEXT = "门诊慢特病待遇认定后，可在定点医院直接结算。\n".encode()


def upload(site: Site, name: str, overwrite: bool = False):
    data = {"overwrite": "true"} if overwrite else {}
    files = {"files": (name, TEXT, "text/plain")}
    return site.client.post("/api/admin/documents", headers=BEARER, files=files, data=data)


def test_paths_in_disguise_and_look_alike_names_are_refused(site: Site) -> None:
    before = site.corpus()
    for name in ("．．／．．／evil.txt", "．．\\evil.txt", "／etc／passwd.txt"):
        response = upload(site, name)
        assert response.status_code == 422 and "path" in response.json()["detail"], name
    cyrillic = BASE_DOC.replace("a", "\u0430")  # bаse.txt with a Cyrillic а
    for name in (cyrillic, "ｂａｓｅ.txt", "bas\u0435.txt"):
        for overwrite in (False, True):  # not even to replace it: it is not that file
            response = upload(site, name, overwrite)
            assert response.status_code == 409, response.text
            detail = response.json()["detail"]
            assert "looks the same" in detail and BASE_DOC in detail, detail
    twins = [
        ("files", ("新文件AB.txt", TEXT, "text/plain")),
        ("files", ("新文件ＡＢ.txt", TEXT, "text/plain")),
    ]
    response = site.client.post("/api/admin/documents", headers=BEARER, files=twins)
    assert response.status_code == 422 and "twice" in response.json()["detail"]
    assert site.corpus() == before
    # The exact name replaces the file with 「覆盖」; a full-width name of a new file is kept as given.
    assert site.finished(upload(site, BASE_DOC, overwrite=True))["state"] == "done"
    assert (site.corpus_dir / BASE_DOC).read_bytes() == TEXT
    assert site.finished(upload(site, "指南（２０２４）.txt"))["state"] == "done"
    assert site.corpus() == before | {"指南（２０２４）.txt"}
    assert upload(site, "指南(2024).txt").status_code == 409  # …and nothing may pose as it
