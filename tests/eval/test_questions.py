"""The retrieval evaluation question set (eval/questions.jsonl) is well formed and grounded."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import opencc
import pytest

from settings import Settings

QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"
# Site boilerplate starts at these markers; an evidence string must lie before them.
BOILERPLATE_MARKERS = ("【免责声明】", "社保网声明", "诚聘英才")


@cache
def questions() -> list[dict]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@cache
def corpus() -> dict[str, str]:
    corpus_dir = Settings.from_env().corpus_dir
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(corpus_dir.glob("*.txt"))}


def is_traditional(text: str) -> bool:
    return opencc.OpenCC("t2s").convert(text) != text


def test_parses_with_expected_fields() -> None:
    for q in questions():
        assert set(q) == {"id", "question", "answerable", "answers"}, q
        assert isinstance(q["question"], str) and q["question"].strip(), q
        assert isinstance(q["answerable"], bool), q
        for answer in q["answers"]:
            assert set(answer) == {"doc", "evidence"}, q


def test_ids_and_questions_unique() -> None:
    ids = [q["id"] for q in questions()]
    assert len(ids) == len(set(ids))
    texts = [q["question"] for q in questions()]
    assert len(texts) == len(set(texts))


def test_answers_match_answerable() -> None:
    for q in questions():
        if q["answerable"]:
            assert q["answers"], q["id"]
            pairs = [(a["doc"], a["evidence"]) for a in q["answers"]]
            assert len(pairs) == len(set(pairs)), q["id"]
        else:
            assert q["answers"] == [], q["id"]


def test_every_evidence_is_verbatim_in_its_document() -> None:
    docs = corpus()
    for q in questions():
        for answer in q["answers"]:
            evidence = answer["evidence"]
            assert answer["doc"] in docs, (q["id"], answer["doc"])
            assert "\n" not in evidence and evidence.strip() == evidence, (q["id"], evidence)
            text = docs[answer["doc"]]
            assert text.count(evidence) == 1, (q["id"], evidence, text.count(evidence))
            ends = [text.index(m) for m in BOILERPLATE_MARKERS if m in text]
            assert text.index(evidence) < min(ends, default=len(text)), (q["id"], "boilerplate", evidence)


def test_size_and_mix() -> None:
    qs = questions()
    assert len(qs) >= 80
    assert sum(is_traditional(q["question"]) for q in qs) >= 15
    assert sum(not q["answerable"] for q in qs) >= 12


def test_every_document_is_covered() -> None:
    covered = {a["doc"] for q in questions() for a in q["answers"]}
    assert covered == set(corpus())


@pytest.mark.parametrize(
    ("text", "expected"), [("醫保卡餘額怎麼查", True), ("医保卡余额怎么查", False), ("12333", False)]
)
def test_traditional_detection(text: str, expected: bool) -> None:
    assert is_traditional(text) is expected
