"""The /eval pages' data: the JSON reports `yibao eval` wrote (data dir, eval_reports/), read as
data (the server does not import eval/). Metrics are listed generically, so new metric keys show
without template changes; a BEIR run's rows have no answer, shown as 「—」."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from server import charts
from settings import Settings

LATEST = "latest"  # eval_report.json, for a data dir from before reports were kept
_REPORT_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")
# Shown as rate bars, in this order, when a run has them (values in [0, 1]).
RATE_KEYS = (
    "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@10", "recall@100",
    "answer_evidence_rate", "first_block_evidence_rate", "citation_precision", "abstain_recall",
    "false_abstain_rate",
)  # fmt: skip
# Lower is better for these: a comparison marks a drop as better. Neither way for these: a
# shorter answer is not better or worse as such.
LOWER_IS_BETTER = ("latency", "false_abstain_rate", "glued", "dangling")
NEITHER = ("median_answer_chars",)
RANK_BUCKETS = ("1", "2", "3", "4", "5", "6–10", ">10", "未找到")


@dataclass(frozen=True)
class ReportEntry:
    """One report in the list: its id (the file's name) and what tells it apart."""

    id: str
    created_at: str
    questions: str
    count: int
    retrievers: str
    headline: str  # its main metric, e.g. "hit@5 0.946"


class Reports:
    """The kept reports; a summary is read once per file version."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.eval_reports_dir
        self.latest = settings.eval_report
        self._summaries: dict[Path, tuple[int, ReportEntry | None]] = {}

    def path(self, report_id: str) -> Path | None:
        if report_id == LATEST:
            return self.latest
        return self.folder / f"{report_id}.json" if _REPORT_ID.match(report_id) else None

    def load(self, report_id: str) -> dict | None:
        """The report, or None when there is none of that id or it cannot be read."""
        path = self.path(report_id)
        if path is None:
            return None
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return report if isinstance(report, dict) else None

    def entries(self) -> list[ReportEntry]:
        """Newest first (the file names are the times they were written)."""
        paths = sorted(self.folder.glob("*.json"), reverse=True) if self.folder.is_dir() else []
        if not paths and self.latest.is_file():
            paths = [self.latest]
        entries = []
        for path in paths:
            report_id = LATEST if path == self.latest else path.stem
            try:
                version = path.stat().st_mtime_ns
            except OSError:
                continue
            cached = self._summaries.get(path)
            if cached is None or cached[0] != version:
                report = self.load(report_id)
                cached = (version, None if report is None else _entry(report_id, report))
                self._summaries[path] = cached
            if cached[1] is not None:
                entries.append(cached[1])
        return entries


def _entry(report_id: str, report: dict) -> ReportEntry:
    config = _dict(report.get("config"))
    runs = _runs(report)
    metrics = _dict(report.get("metrics"))
    key = next((k for k in ("hit@5", "ndcg@10", "mrr@10") if isinstance(metrics.get(k), int | float)), None)
    return ReportEntry(
        id=report_id,
        created_at=str(config.get("created_at") or report_id).replace("T", " ").replace("+00:00", " UTC"),
        questions=Path(str(config.get("questions") or "?")).name,
        count=len(_list(report.get("per_question"))),
        retrievers=", ".join(str(_dict(r.get("config")).get("name", "?")) for r in runs),
        headline=f"{key} {metrics[key]:.3f}" if key else "",
    )


def report_context(report_id: str, report: dict, misses_only: bool) -> dict:
    """What eval.html shows of one report: its runs side by side, every scalar metric any run has
    (in first-seen order), the charts, and the questions (only the misses when asked), misses first."""
    runs = _runs(report)
    keys = _scalar_keys(runs)
    rows = [
        {**row, "missed": missed(row)} for row in _list(report.get("per_question")) if isinstance(row, dict)
    ]
    shown = [row for row in rows if row["missed"]] if misses_only else rows
    shown.sort(key=lambda row: not row["missed"])
    names = [str(_dict(r.get("config")).get("name", "?")) for r in runs]
    curves = [
        (name, curve)
        for name, run in zip(names, runs, strict=True)
        if _is_rates(curve := _dict(run.get("metrics")).get("recall_curve"))
    ]
    config = _dict(report.get("config"))
    return {
        "report": report,
        "entry": _entry(report_id, report),
        "config": config,
        "main": str(config.get("name") or names[0]),  # the run the questions' rows are from
        "runs": runs,
        "names": names,
        "keys": keys,
        "rows": shown,
        "total": len(rows),
        "misses": sum(row["missed"] for row in rows),
        "misses_only": misses_only,
        "rates": _rate_chart(names, runs),
        "recall": charts.lines(curves, "k=1", f"k={len(curves[0][1])}") if curves else None,
        "ranks": charts.count_bars(_rank_buckets(rows)) if rows else None,
    }


def compare_context(a: dict, b: dict) -> dict:
    """Two reports' main runs side by side: each metric with its change, and the questions whose
    outcome changed (by id)."""
    runs = [_main_run(a), _main_run(b)]
    metrics = [_dict(run.get("metrics")) for run in runs]
    deltas = []
    for key in _scalar_keys(runs):
        before, after = metrics[0].get(key), metrics[1].get(key)
        change = None
        if isinstance(before, int | float) and isinstance(after, int | float):
            change = after - before
        lower = any(key.startswith(k) for k in LOWER_IS_BETTER)
        verdict = "" if not change or key in NEITHER else ("better" if (change < 0) == lower else "worse")
        deltas.append({"key": key, "a": before, "b": after, "change": change, "verdict": verdict})
    rows_a = {row.get("id"): row for row in _list(a.get("per_question")) if isinstance(row, dict)}
    changed = []
    for row in _list(b.get("per_question")):
        if not isinstance(row, dict) or (old := rows_a.get(row.get("id"))) is None:
            continue
        fields = ("first_relevant_rank", "answer_has_evidence", "abstained")
        if any(old.get(f) != row.get(f) for f in fields):
            changed.append({"a": old, "b": row, "verdict": _verdict(old, row)})
    names = ["A", "B"]
    return {
        "deltas": deltas,
        "changed": changed,
        "shared": len(
            set(rows_a) & {r.get("id") for r in _list(b.get("per_question")) if isinstance(r, dict)}
        ),
        "rates": _rate_chart(names, runs),
    }


def _verdict(old: dict, new: dict) -> str:
    """A question's change: a miss that became a hit is better (and the reverse worse); else its
    first relevant passage ranked higher (better) or lower (worse)."""
    before, after = missed(old), missed(new)
    if before != after:
        return "worse" if after else "better"
    rank_before, rank_after = _rank(old), _rank(new)
    if rank_before == rank_after:
        return ""
    return "better" if rank_after < rank_before else "worse"


def _rank(row: dict) -> float:
    rank = row.get("first_relevant_rank")
    return rank if isinstance(rank, int) else float("inf")


def missed(row: dict) -> bool:
    """Answerable but not found, abstained or without evidence; unanswerable and answered; a BEIR
    query (no answer) whose first relevant passage is not in the top 10."""
    rank = row.get("first_relevant_rank")
    if "abstained" not in row:
        return not isinstance(rank, int) or rank > 10
    if row.get("answerable"):
        return rank is None or bool(row.get("abstained")) or not row.get("answer_has_evidence")
    return not row.get("abstained")


def _rate_chart(names: list[str], runs: list[dict]) -> dict | None:
    metrics = [_dict(run.get("metrics")) for run in runs]
    rows = []
    for key in RATE_KEYS:
        values = [m.get(key) for m in metrics]
        if any(isinstance(v, float) for v in values):
            rows.append((key, [float(v) if isinstance(v, int | float) else None for v in values]))
    return charts.rate_bars(names, rows) if rows else None


def _rank_buckets(rows: list[dict]) -> list[tuple[str, int]]:
    """Where the first relevant passage ranked, for the questions that have one."""
    counts = dict.fromkeys(RANK_BUCKETS, 0)
    for row in rows:
        if not row.get("answerable"):
            continue
        rank = row.get("first_relevant_rank")
        if not isinstance(rank, int):
            counts["未找到"] += 1
        else:
            counts[str(rank) if rank <= 5 else "6–10" if rank <= 10 else ">10"] += 1
    return list(counts.items())


def _runs(report: dict) -> list[dict]:
    runs = [r for r in _list(report.get("compare")) if isinstance(r, dict)]
    return runs or [report]


def _main_run(report: dict) -> dict:
    """The run a report leads with (its top-level config and metrics)."""
    return {"config": _dict(report.get("config")), "metrics": _dict(report.get("metrics"))}


def _scalar_keys(runs: list[dict]) -> list[str]:
    keys: list[str] = []
    for run in runs:
        for key, value in _dict(run.get("metrics")).items():
            if key not in keys and isinstance(value, int | float | str | None):
                keys.append(key)
    return keys


def _is_rates(value: object) -> bool:
    return isinstance(value, list) and len(value) > 1 and all(isinstance(v, int | float) for v in value)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
