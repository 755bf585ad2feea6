"""Keeping reports: every `yibao eval` run is kept for the /eval page, the newest few only."""

from __future__ import annotations

import json
from pathlib import Path

from eval.report import archive_json


def test_reports_are_kept_newest_first_up_to_the_limit(tmp_path: Path) -> None:
    names = [archive_json({"run": i}, tmp_path, keep=3).name for i in range(5)]
    assert len(set(names)) == 5 and names == sorted(names)  # the names sort by age, even within a second
    kept = sorted(tmp_path.glob("*.json"))
    assert [p.name for p in kept] == names[2:]
    assert [json.loads(p.read_text(encoding="utf-8"))["run"] for p in kept] == [2, 3, 4]


def test_a_report_written_after_a_later_one_still_sorts_newest(tmp_path: Path) -> None:
    """A clock set back must not make the newest report the oldest (and the first pruned)."""
    (tmp_path / "29991231-235959-999.json").write_text("{}", encoding="utf-8")
    newest = archive_json({"run": 1}, tmp_path, keep=1)
    assert newest.name == "30000101-000000-000.json" and [p.name for p in tmp_path.glob("*.json")] == [
        newest.name
    ]
