"""A server over a small corpus of its own, with the admin enabled, for tests that change the
corpus: an in-process client logged in or not, on copies of one index built per session."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
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

    def wait(
        self,
        job_id: str,
        states: tuple[str, ...] = FINISHED,
        timeout: float = 300,
        until: Callable[[dict], bool] | None = None,
    ) -> dict:
        """The job, polled through the API until it is in one of ``states`` (or ``until`` holds:
        then a job that finishes first is a failure)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if until(job) if until else job["state"] in states:
                return job
            assert until is None or job["state"] not in FINISHED, job
            time.sleep(0.1)
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
    shutil.copytree(template.corpus_dir, root / "corpus")
    shutil.copytree(template.data_dir, root / "data")
    conf = replace(settings, corpus_dir=root / "corpus", data_dir=root / "data", **overrides)
    yield from serve_site(conf, embedder)


def serve_site(settings: Settings, embedder) -> Iterator[Site]:
    """The server started over ``settings``'s dirs (as they are) until the iteration ends."""
    from server.app import create_app
    from server.engine import Engine

    engine = Engine(settings, embedder)
    with TestClient(create_app(settings, engine)) as client:
        yield Site(client, settings, engine)


@pytest.fixture
def site(tiny_template: Tiny, tmp_path: Path, settings: Settings, embedder) -> Iterator[Site]:
    yield from make_site(tiny_template, tmp_path, settings, embedder, admin_token=TOKEN)
