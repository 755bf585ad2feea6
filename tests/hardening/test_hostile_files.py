"""Hostile and damaged files: each is skipped with a warning naming it and the reason, never an
error; the rest of the corpus is indexed all the same; an upload of them fails its job, naming each
with its reason;
and a zip bomb is refused before it expands (the ingest's peak memory, read from the process,
stays below what the bomb would expand to)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from index import store
from ingest.readers import read_document
from ingest.records import SkippedFile
from settings import ROOT, Settings
from tests.admin.conftest import TOKEN, Site
from tests.docfiles import (
    GIB,
    billion_laughs_docx,
    docx_bytes,
    truncated_docx,
    write_pdf,
    xml_bomb_docx,
    zeros_bomb_docx,
    zeros_docx,
)

from .conftest import CLI, NEW_DOC, NEW_TEXT, Tiny

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _damaged_pdf(directory: Path) -> bytes:
    raw = write_pdf(directory / "whole.pdf", [["医保卡余额可以在医保服务平台查询。" * 20]]).read_bytes()
    return raw[: len(raw) // 3]


# name → (how it is built, what its reason says)
HOSTILE: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "truncated.docx": (lambda _: truncated_docx(), "XML cannot be parsed"),
    "zeros.docx": (lambda _: zeros_docx(), "XML cannot be parsed"),
    "billion-laughs.docx": (lambda _: billion_laughs_docx(), "declares a DTD"),
    "zeros-bomb.docx": (lambda _: zeros_bomb_docx(), "zip bomb"),
    "xml-bomb.docx": (lambda _: xml_bomb_docx(), "zip bomb"),
    "damaged.pdf": (_damaged_pdf, "damaged PDF"),
    "garbage.pdf": (lambda _: b"%PDF-1.7\n" + bytes(range(256)) * 64, "damaged PDF"),
}


def high_water_mark(pid: int) -> int:
    """The most resident memory the process has had so far (VmHWM; it never goes down, so the
    last reading before the process ends is its peak); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) * 1024


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile files, built once (the two bombs take a few seconds)."""
    folder = tmp_path_factory.mktemp("hostile")
    work = tmp_path_factory.mktemp("hostile-work")
    for name, (build, _) in HOSTILE.items():
        (folder / name).write_bytes(build(work))
    return folder


def test_each_hostile_file_is_skipped_with_its_reason(hostile: Path) -> None:
    for name, (_, reason) in HOSTILE.items():
        result = read_document(hostile / name, hostile)
        assert isinstance(result, SkippedFile), name
        assert result.path == name and reason in result.reason, (name, result.reason)
    bomb = (hostile / "zeros-bomb.docx").stat().st_size
    assert bomb < 2 * 2**20  # a small file: only its expansion is refused
    assert "expands to 1024" in read_document(hostile / "zeros-bomb.docx", hostile).reason


def test_the_limits_are_settings(tmp_path: Path) -> None:
    """A file within the defaults is refused under tighter limits, with the limit in the reason."""
    doc = tmp_path / "ok.docx"
    doc.write_bytes(docx_bytes())
    pdf = write_pdf(tmp_path / "two.pdf", [["第一页的内容。"], ["第二页的内容。"]])
    assert read_document(doc, tmp_path).text
    tight = replace(Settings(), max_archive_members=3, max_pdf_pages=1)
    assert "too many parts" in read_document(doc, tmp_path, settings=tight).reason
    assert "too many pages (2, limit 1)" in read_document(pdf, tmp_path, settings=tight).reason
    slow = replace(Settings(), pdf_seconds=0.0)
    assert "took longer than 0 s" in read_document(pdf, tmp_path, settings=slow).reason
    ratio = tmp_path / "ratio.docx"
    ratio.write_bytes(zeros_bomb_docx(8 * 2**20))  # 8 MiB of zeros: within the size, not the ratio
    assert "compressed" in read_document(ratio, tmp_path).reason


def test_yibao_ingest_skips_them_indexes_the_rest_and_stays_small(tiny: Tiny, hostile: Path) -> None:
    for path in hostile.iterdir():
        shutil.copy(path, tiny.corpus_dir / path.name)
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    with open(tiny.data_dir / "ingest.log", "w+b") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "ingest"], cwd=ROOT, env=tiny.env(), stdout=log, stderr=log
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, high_water_mark(process.pid))
            time.sleep(0.05)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    assert process.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    for name, (_, reason) in HOSTILE.items():
        assert any(name in line and reason in line for line in output.splitlines()), (name, output[-3000:])
    manifest = store.read_manifest(tiny.index_dir)
    assert NEW_DOC in manifest.files and set(HOSTILE) <= set(manifest.skipped)
    assert 0 < peak < GIB, f"ingest peaked at {peak / 2**20:.0f} MiB"


def test_an_upload_of_them_fails_naming_each_with_its_reason_and_changes_nothing(
    site: Site, hostile: Path
) -> None:
    before, live = site.corpus(), site.live()
    files = [("files", (name, (hostile / name).read_bytes(), "application/octet-stream")) for name in HOSTILE]
    job = site.finished(site.client.post("/api/admin/documents", headers=BEARER, files=files))
    assert job["state"] == "failed" and "nothing changed" in job["reason"], job
    for name, (_, reason) in HOSTILE.items():
        assert name in job["reason"] and reason in job["reason"], (name, job["reason"])
    assert site.corpus() == before and site.live() == live
    assert site.client.post("/api/ask", json={"question": "家庭共济怎么绑定"}).status_code == 200
