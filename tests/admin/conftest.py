"""A server over a small corpus of its own, with the admin enabled, for tests that change the
corpus: an in-process client logged in or not, on copies of one index built per session."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from settings import Settings
from tests.hardening import conftest as hardening
from tests.hardening.conftest import Tiny

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FINISHED = ("done", "failed", "cancelled")
# The tiny corpus and its index, built once per session (tests/hardening/conftest.py).
tiny_template = hardening.tiny_template
tiny = hardening.tiny  # a test's own copy of it
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    client: TestClient
    settings: Settings
    engine: object

    @property
    def corpus_dir(self) -> Path:
        return self.settings.corpus_dir

    def csrf(self, path: str = "/admin") -> str:
        match = _CSRF.search(self.client.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self) -> str:
        """Log in through the form; returns the session's CSRF token."""
        response = self.client.post("/admin/login", data={"token": TOKEN, "csrf": self.csrf("/admin/login")})
        assert response.status_code == 200 and "文档管理" in response.text, response.text[:500]
        return self.csrf()

    def corpus(self) -> set[str]:
        return {p.name for p in self.corpus_dir.iterdir()}

    def indexed(self) -> set[str]:
        return set(self.engine.answerer.retriever.index.documents)

    def live(self) -> str:
        return (self.settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip()

    def job(self, job_id: str) -> dict:
        return self.client.get(f"/api/admin/jobs/{job_id}", headers=AUTH).json()

    def wait(self, job_id: str, states: tuple[str, ...] = FINISHED, timeout: float = 300) -> dict:
        """The job, polled through the API until it is in one of ``states``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["state"] in states:
                return job
            time.sleep(0.2)
        pytest.fail(f"job {job_id} not {states} after {timeout} s: {job}")

    def finished(self, response) -> dict:
        """The job a request queued, followed to its end: from the API's 202, or from the job's
        page that the admin form led to."""
        if response.status_code == 202:
            assert response.headers["location"] == f"/api/admin/jobs/{response.json()['id']}"
            return self.wait(response.json()["id"])
        assert response.status_code == 200 and response.url.path.startswith("/admin/jobs/"), response.text[
            -500:
        ]
        return self.wait(response.url.path.rsplit("/", 1)[1])


def make_site(
    template: Tiny, root: Path, settings: Settings, embedder, **overrides: object
) -> Iterator[Site]:
    from server.app import create_app
    from server.engine import Engine

    shutil.copytree(template.corpus_dir, root / "corpus")
    shutil.copytree(template.data_dir, root / "data")
    conf = replace(settings, corpus_dir=root / "corpus", data_dir=root / "data", **overrides)
    engine = Engine(conf, embedder)
    with TestClient(create_app(conf, engine)) as client:
        yield Site(client, conf, engine)


@pytest.fixture
def site(tiny_template: Tiny, tmp_path: Path, settings: Settings, embedder) -> Iterator[Site]:
    yield from make_site(tiny_template, tmp_path, settings, embedder, admin_token=TOKEN)
