"""A server over a small corpus of its own, with the admin enabled, for tests that change the
corpus: an in-process client logged in or not, on copies of one index built per session."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from settings import Settings
from tests.hardening import conftest as hardening
from tests.hardening.conftest import Tiny

TOKEN = "s3cret-admin-token"
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
