"""The `yibao` command's own output: a PDF passage's page in `search` and `ask`."""

from __future__ import annotations

import cli
from tests.admin.test_admin import PDF_PAGES
from tests.docfiles import write_pdf
from tests.hardening.conftest import Tiny, tiny, tiny_template

__all__ = ["tiny", "tiny_template"]  # the tiny corpus, a copy per test
QUESTION = "生育津贴按照什么标准计发"  # answered on the PDF's second page


def test_search_and_ask_show_a_pdf_passages_page(tiny: Tiny, embedder, monkeypatch, capsys) -> None:
    write_pdf(tiny.corpus_dir / "maternity.pdf", PDF_PAGES)
    monkeypatch.setenv("YIBAO_CORPUS_DIR", str(tiny.corpus_dir))
    monkeypatch.setenv("YIBAO_DATA_DIR", str(tiny.data_dir))
    # The session's model, already loaded, rather than a second copy of the same one.
    monkeypatch.setattr("index.embedding.load_embedder", lambda settings: embedder)
    assert cli.main(["ingest"]) == 0
    capsys.readouterr()

    assert cli.main(["search", QUESTION, "-k", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("1. [") and "maternity.pdf" in first and first.endswith("（第 2 页）")

    assert cli.main(["ask", QUESTION]) == 0
    sources = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[1] ")]
    assert sources and "maternity.pdf" in sources[0] and sources[0].endswith("第 2 页)")

    assert cli.main(["search", "家庭共济", "-k", "1"]) == 0
    assert "页）" not in capsys.readouterr().out  # a text file has no pages
