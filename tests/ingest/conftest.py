"""The real corpus, ingested once for the ingest tests."""

from __future__ import annotations

import pytest

from ingest.pipeline import ingest_corpus
from ingest.records import IngestResult
from settings import Settings


@pytest.fixture(scope="session")
def result(settings: Settings) -> IngestResult:
    return ingest_corpus(settings)
