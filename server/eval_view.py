"""The /eval page's data: the JSON report `yibao eval` wrote last, read as data (the server does
not import eval/). Metrics are listed generically, so new metric keys show without template changes."""

from __future__ import annotations

import json
from pathlib import Path


def eval_context(path: Path) -> dict:
    """``report`` (None when there is none or it cannot be read), the runs side by side, every
    scalar metric any run has (in first-seen order), and the questions, failures first."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"report": None, "path": str(path)}
    if not isinstance(report, dict):
        return {"report": None, "path": str(path)}
    runs = report.get("compare") or [report]
    keys: list[str] = []
    for run in runs:
        for key, value in (run.get("metrics") or {}).items():
            if key not in keys and isinstance(value, int | float | str | None):
                keys.append(key)
    rows = [{**row, "failed": _failed(row)} for row in report.get("per_question") or []]
    rows.sort(key=lambda row: not row["failed"])
    return {"report": report, "path": str(path), "runs": runs, "keys": keys, "rows": rows}


def _failed(row: dict) -> bool:
    """Answerable but not found, abstained or without evidence; or unanswerable and answered."""
    if row.get("answerable"):
        return (
            row.get("first_relevant_rank") is None
            or bool(row.get("abstained"))
            or not row.get("answer_has_evidence")
        )
    return not row.get("abstained")
