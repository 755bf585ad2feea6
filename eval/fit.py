"""Fitting the answer model (answer/score.py) on a question set: ``yibao fit``.

Each question is searched once and its candidate blocks' features are computed once; the rest is
numpy:

- the feature weights: a conditional logit (a softmax over each question's blocks; a block is
  right when it holds the question's evidence), over folds split by document, so that every
  question is scored by weights fitted without its document;
- the margins that decide which blocks follow the opening: a grid over those held-out scores, the
  real selection (answer/select.py) run on every question, keeping the most answers and openings
  that hold the evidence with the median answer within ``budget`` characters;
- abstention: a logistic regression on the evidence (answer/confidence.py) of each question asked
  against its own corpus and against another one (``against``, whose passages cannot answer it);
  the threshold is the highest that abstains on at most ``max_false_abstain`` of the questions
  whose evidence a retrieved passage holds.

The figures it reports are held-out: each question answered with the model fitted on the other
folds, through the same ``Answerer.answer`` that serves answers.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from tqdm import tqdm

from answer.candidates import Candidate
from answer.compose import Answerer, scored
from answer.confidence import confidence
from answer.question import Question as Asked
from answer.question import question_of
from answer.records import Answer
from answer.score import EVIDENCE, AnswerModel
from eval import metrics
from eval.answer_checks import answer_chars
from eval.questions import Question
from index.retriever import SearchResult
from ingest.textnorm import fold

log = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
# The regularisation of both regressions, per question, on standardised features.
_L2 = 1e-4
_MARGINS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
_NEXT_MARGINS = (2.0, 4.0, 6.0, 8.0, 12.0)
# Searched this many times deeper than an answer is, so that the question can also be asked of
# its corpus without its own document.
_DEPTH = 3
_GATHER_MARGINS = (0.0, 1.0, 2.0, 4.0)


@dataclass
class _Case:
    """One question as the fit sees it: its search, its blocks with their features and labels."""

    question: Question
    result: SearchResult
    asked: Asked
    cands: list[Candidate]
    features: np.ndarray
    right: np.ndarray
    fold: int
    # The evidence abstention weighs, asked against its own corpus.
    evidence: dict[str, float]
    # Whether a retrieved passage holds the evidence: then the question must not abstain.
    findable: bool
    # The question asked of its corpus without its document: nothing answers it there.
    elsewhere: SearchResult
    # How much it counts in the fit (a question of a second, smaller set counts more).
    weight: float = 1.0


def searched(answerer: Answerer, questions: list[Question], cache: Path | None, progress: bool) -> list:
    """Each question's search, ``_DEPTH`` times as deep as the answerer's settings ask (their
    ``top`` is the search they make), from ``cache`` when it holds this index's and these
    questions' searches."""
    key = _cache_key(answerer, questions)
    if cache is not None and cache.exists():
        with open(cache, "rb") as fh:
            stored = pickle.load(fh)
        if stored.get("key") == key:
            return stored["results"]
    results = [
        answerer.retriever.search(q.question, _DEPTH * answerer.settings.top_k)
        for q in tqdm(questions, desc="search", unit="q", disable=not progress)
    ]
    if cache is not None:
        with open(cache, "wb") as fh:
            pickle.dump({"key": key, "results": results}, fh)
    return results


def _cache_key(answerer: Answerer, questions: list[Question]) -> str:
    digest = hashlib.sha256()
    digest.update(str(answerer.retriever.index.path).encode())
    digest.update(repr((_DEPTH, answerer.settings.top_k)).encode())
    for q in questions:
        digest.update(q.question.encode())
    return digest.hexdigest()


def cases(
    answerer: Answerer, questions: list[Question], results: list[SearchResult], folds: int, progress: bool
) -> list[_Case]:
    """The fit's view of each answerable question."""
    docs = sorted({q.answers[0].doc for q in questions if q.answers})
    order = np.random.default_rng(0).permutation(len(docs))
    fold_of = {doc: int(order[i]) % folds for i, doc in enumerate(docs)}
    out = []
    pairs = zip(questions, results, strict=True)
    for q, deep in tqdm(pairs, total=len(questions), desc="features", unit="q", disable=not progress):
        if not q.answerable or not q.answers:
            continue
        result = deep.top(answerer.settings.top_k)
        asked = question_of(result)
        vector = result.query_vector
        cands, features = answerer.blocks(asked, result, vector)
        evidence = _unspaced_all(a.evidence for a in q.answers)
        right = np.array([any(e in _unspaced(c.text) for e in evidence) for c in cands], dtype=bool)
        findable = any(any(e in _unspaced(p.chunk.text) for e in evidence) for p in result.passages)
        own = {a.doc for a in q.answers}
        elsewhere = replace(deep, passages=[p for p in deep.passages if p.chunk.doc_id not in own])
        k = fold_of[q.answers[0].doc]
        top = elsewhere.top(answerer.settings.top_k)
        out.append(_Case(q, result, asked, cands, features, right, k, {}, findable, top))
    return out


def fit_weights(items: list[_Case], l2: float = _L2) -> np.ndarray:
    """Conditional-logit weights over FEATURES, on the raw features' scale."""
    usable = [c for c in items if c.right.any()]
    counts = np.array([c.weight for c in usable])
    x = np.concatenate([c.features for c in usable])
    right = np.concatenate([c.right for c in usable])
    group = np.concatenate([np.full(len(c.cands), i) for i, c in enumerate(usable)])
    mean, spread = x.mean(axis=0), x.std(axis=0)
    spread[spread == 0] = 1.0
    z = (x - mean) / spread
    n = len(usable)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ w
        e = np.exp(s - s.max())
        total = np.bincount(group, e, n)
        hit = np.bincount(group, e * right, n)
        value = -np.sum(counts * (np.log(hit) - np.log(total))) + l2 * n * (w @ w)
        gradient = z.T @ ((e / total[group] - e * right / hit[group]) * counts[group]) + 2 * l2 * n * w
        return value, gradient

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return w / spread


def held_out_weights(items: list[_Case], folds: int, also: list[_Case] = ()) -> list[np.ndarray]:
    """Each question's weights: fitted on the other folds (and all of ``also``)."""
    weights = [fit_weights([c for c in items if c.fold != k] + list(also)) for k in range(folds)]
    return [weights[c.fold] for c in items]


def tune_margins(answerer: Answerer, items: list[_Case], weights: list[np.ndarray], budget: int) -> dict:
    """The margins with the most answers and openings holding the evidence, the median answer
    within ``budget`` characters (abstention left out: it is fitted apart)."""
    best: tuple[float, dict] = (-1.0, {})
    base = answerer.model
    tried = []

    def measure(margin: float, next_margin: float, gather: float) -> dict:
        model = replace(base, margin=margin, next_margin=next_margin, gather_margin=gather)
        figures = _selection_figures(answerer, model, items, weights)
        tried.append({"margin": margin, "next_margin": next_margin, "gather_margin": gather, **figures})
        return figures

    for margin in _MARGINS:
        for next_margin in _NEXT_MARGINS:
            if next_margin < margin:
                continue
            f = measure(margin, next_margin, margin)
            value = f["answer_evidence_rate"] + f["first_block_evidence_rate"]
            if f["median_answer_chars"] <= budget and value > best[0]:
                best = (value, {"margin": margin, "next_margin": next_margin})
    if not best[1]:
        raise ValueError(f"no margins keep the median answer within {budget} characters")
    chosen = best[1]
    best = (-1.0, {})
    for gather in _GATHER_MARGINS:
        f = measure(chosen["margin"], chosen["next_margin"], gather)
        value = f["answer_evidence_rate"] + f["first_block_evidence_rate"] + f["citation_precision"]
        if f["median_answer_chars"] <= budget and value > best[0]:
            best = (value, {**chosen, "gather_margin": gather})
    return {"chosen": best[1], "tried": tried}


def _selection_figures(
    answerer: Answerer, model: AnswerModel, items: list[_Case], fold_weights: list[np.ndarray]
) -> dict:
    from answer import formatting
    from answer.select import Selector

    selector = Selector(answerer.sources, answerer.settings, model)
    evidence, first, cited, lengths = [], [], [], []
    for case, weights in zip(items, fold_weights, strict=True):
        ranked = scored(case.cands, case.features, weights)
        blocks, citations = formatting.cite(selector.select(case.asked, ranked), answerer.sources)
        text = "\n".join(b.text for b in blocks)
        evidence.append(case.question.answered_by(text))
        first.append(bool(blocks) and case.question.answered_by(blocks[0].text))
        cited.extend(
            bool(case.question.relevant(c.passage.chunk.doc_id, c.passage.chunk.text)) for c in citations
        )
        lengths.append(sum(len(q.source) for b in blocks for q in b.quotes))
    return {
        "answer_evidence_rate": round(metrics.mean(evidence), 4),
        "first_block_evidence_rate": round(metrics.mean(first), 4),
        "citation_precision": round(metrics.mean(cited), 4),
        "median_answer_chars": metrics.percentile(lengths or [0], 50),
    }


def evidence_of(answerer: Answerer, result: SearchResult) -> dict[str, float]:
    """What abstention weighs for one search (as ``Answerer.answer`` computes it)."""
    return answerer.answer(result.query, result).evidence


def fit_abstention(
    positive: list[dict[str, float]], negative: list[dict[str, float]], findable: list[bool], max_false: float
) -> tuple[tuple[float, ...], float, float, dict]:
    """Logistic weights over EVIDENCE, the bias and the threshold; with the figures it gives."""
    rows = [_evidence_row(e) for e in positive + negative]
    x = np.array(rows)
    y = np.array([1.0] * len(positive) + [0.0] * len(negative))
    mean, spread = x.mean(axis=0), x.std(axis=0)
    spread[spread == 0] = 1.0
    z = np.column_stack([(x - mean) / spread, np.ones(len(x))])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1 / (1 + np.exp(-np.clip(z @ w, -50, 50)))
        eps = 1e-12
        value = -np.sum(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + _L2 * len(x) * (
            w[:-1] @ w[:-1]
        )
        gradient = z.T @ (p - y) + 2 * _L2 * len(x) * np.append(w[:-1], 0.0)
        return value, gradient

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    weights = w[:-1] / spread
    bias = float(w[-1] - np.sum(w[:-1] * mean / spread))
    p = 1 / (1 + np.exp(-np.clip(x @ weights + bias, -50, 50)))
    must_answer = np.sort(p[: len(positive)][np.array(findable, dtype=bool)])
    # The highest threshold under which at most max_false of the findable questions fall.
    k = int(np.floor(max_false * len(must_answer)))
    threshold = float(must_answer[k]) if len(must_answer) else 0.5
    abstain = p < threshold
    figures = {
        "abstain_recall": round(float(abstain[len(positive) :].mean()), 4) if negative else None,
        "abstain_precision": round(float((~y.astype(bool) & abstain).sum() / max(1, abstain.sum())), 4),
        "false_abstain_rate": round(float(abstain[: len(positive)].mean()), 4),
    }
    return tuple(float(v) for v in weights), bias, threshold, figures


def _abstention_figures(
    model: AnswerModel,
    weights: tuple[float, ...],
    bias: float,
    threshold: float,
    positive: list[dict[str, float]],
    negative: list[dict[str, float]],
) -> dict:
    """Abstain precision and recall with only ``negative`` as the unanswerable questions."""
    fitted = replace(model, abstain_weights=weights, abstain_bias=bias, threshold=threshold)
    answerable = [confidence(e, fitted) < threshold for e in positive]
    unanswerable = [confidence(e, fitted) < threshold for e in negative]
    abstained = sum(answerable) + sum(unanswerable)
    return {
        "abstain_recall": round(metrics.mean(unanswerable), 4),
        "abstain_precision": round(sum(unanswerable) / abstained, 4) if abstained else None,
        "false_abstain_rate": round(metrics.mean(answerable), 4),
    }


def _evidence_row(evidence: dict[str, float]) -> list[float]:
    seen = dict(evidence)
    seen["unit_cosine"] = max(seen["cosine"], seen.get("unit_cosine", 0.0))
    return [seen.get(name, 0.0) for name in EVIDENCE]


def held_out_answers(answerer: Answerer, items: list[_Case], models: list[AnswerModel]) -> dict:
    """The figures `yibao eval` reports, each question answered with its fold's model."""
    answerers = [Answerer(answerer.retriever, answerer.settings, model) for model in models]
    rows = []
    for case in items:
        answer: Answer = answerers[case.fold].answer(case.question.question, case.result)
        rows.append(
            (
                case.question.answered_by(answer.text),
                bool(answer.blocks) and case.question.answered_by(answer.blocks[0].text),
                answer.abstained,
                None if answer.abstained else answer_chars(answer),
                [
                    bool(case.question.relevant(c.passage.chunk.doc_id, c.passage.chunk.text))
                    for c in answer.citations
                ],
            )
        )
    return {
        "answer_evidence_rate": round(metrics.mean(r[0] for r in rows), 4),
        "first_block_evidence_rate": round(metrics.mean(r[1] for r in rows), 4),
        "false_abstain_rate": round(metrics.mean(r[2] for r in rows), 4),
        "median_answer_chars": metrics.percentile([r[3] for r in rows if r[3] is not None] or [0], 50),
        "citation_precision": round(metrics.mean(ok for r in rows for ok in r[4]), 4),
    }


def fit(
    answerer: Answerer,
    questions: list[Question],
    *,
    against: Answerer | None,
    folds: int,
    budget: int,
    max_false_abstain: float,
    cache: Path | None,
    progress: bool,
    source: str,
    also: tuple[Answerer, list[Question], float] | None = None,
) -> tuple[AnswerModel, dict]:
    """The fitted model and the report of how it was fitted. ``also`` is a second question set
    over its own corpus whose questions count ``weight`` times each in the weights' fit (not in
    the margins' or the abstention's): a few questions of the documents the answers are for,
    beside thousands of another kind."""
    results = searched(answerer, questions, cache, progress)
    items = cases(answerer, questions, results, folds, progress)
    extra: list[_Case] = []
    if also is not None:
        other, also_questions, weight = also
        extra = cases(other, also_questions, searched(other, also_questions, None, progress), folds, progress)
        extra = [replace(c, weight=weight) for c in extra]
    held_out = held_out_weights(items, folds, extra)
    scores = [c.features @ w for c, w in zip(items, held_out, strict=True)]
    ranking = {
        f"held_out_top{k}": round(
            metrics.mean(bool(c.right[np.argsort(-s)[:k]].any()) for c, s in zip(items, scores, strict=True)),
            4,
        )
        for k in (1, 2, 3)
    }
    weights = fit_weights(items + extra)
    margins = tune_margins(answerer, items, held_out, budget)
    model = replace(answerer.model, weights=tuple(float(w) for w in weights), **margins["chosen"])
    # Abstention is fitted on the evidence the fitted blocks give: each question asked of its own
    # corpus, of its corpus without its document and of another corpus.
    fitted = Answerer(answerer.retriever, answerer.settings, model)
    positive = [evidence_of(fitted, c.result) for c in tqdm(items, desc="evidence", disable=not progress)]
    negative = [evidence_of(fitted, c.elsewhere) for c in tqdm(items, desc="elsewhere", disable=not progress)]
    wrong: list[dict[str, float]] = []
    if against is not None:
        other = Answerer(against.retriever, against.settings, model)
        cached = cache.with_suffix(".against.pkl") if cache else None
        top = [r.top(answerer.settings.top_k) for r in searched(other, questions, cached, progress)]
        wrong = [evidence_of(other, r) for r in tqdm(top, desc="against", unit="q", disable=not progress)]
    weights_a, bias, threshold, abstention = fit_abstention(
        positive, negative + wrong, [c.findable for c in items], max_false_abstain
    )
    abstention["against_only"] = _abstention_figures(model, weights_a, bias, threshold, positive, wrong)
    abstention["elsewhere_only"] = _abstention_figures(model, weights_a, bias, threshold, positive, negative)
    model = replace(model, abstain_weights=weights_a, abstain_bias=bias, threshold=threshold)
    fold_models = [
        replace(
            model, weights=tuple(float(w) for w in fit_weights([c for c in items if c.fold != k] + extra))
        )
        for k in range(folds)
    ]
    report = {
        "questions": len(items),
        "folds": folds,
        "ranking": ranking,
        "margins": margins["chosen"],
        "abstention": abstention,
        "held_out": held_out_answers(answerer, items, fold_models),
    }
    if also is not None:
        # The second set's own figures: with every weight fitted on it, and with each question's
        # weights fitted without its fold of it.
        also_models = [
            replace(
                model, weights=tuple(float(w) for w in fit_weights(items + [c for c in extra if c.fold != k]))
            )
            for k in range(folds)
        ]
        report["also"] = {
            "questions": len(extra),
            "weight": also[2],
            "in_sample": held_out_answers(also[0], extra, [model] * folds),
            "held_out": held_out_answers(also[0], extra, also_models),
        }
    model = replace(
        model,
        about={
            "fitted_on": source,
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "against": str(against.settings.corpus_dir) if against is not None else None,
            "report": report,
        },
    )
    return model, report


def _unspaced(text: str) -> str:
    return _WHITESPACE.sub("", fold(text))


def _unspaced_all(texts: Iterable[str]) -> list[str]:
    return [_unspaced(t) for t in texts]
