"""Property-based: for any question and any set of retrieved passages the composer never raises,
quotes only verbatim spans of the passages it cites (and of the corpus files), and always carries
the disclaimer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from answer.records import DISCLAIMER, NOT_FOUND, Answer
from eval.questions import load_questions
from index.retriever import Passage, SearchResult
from ingest.pipeline import read_corpus
from ingest.textnorm import tokenize
from settings import ROOT

# Fuzzing, load and kill loops: minutes, left out of `make test-fast`.
pytestmark = pytest.mark.slow

FRAGMENTS = [
    "医保卡余额怎么查",
    "醫保卡餘額能不能提現",
    "家庭共济怎么绑定",
    "12333",
    "异地就医",
    "报销比例是多少",
    "？",
    "?",
    "!!!",
    "。。。",
    "😀",
    "🇨🇳",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "' OR 1=1 --",
    "\u200b",
    "\u3000",
    "\t",
    "\n",
    "\x00",
    "\x1b[31m",
    "e\u0301",
    "مرحبا",
    "how do I check my balance",
    "的" * 50,
]
QUESTIONS = st.one_of(
    st.text(min_size=1, max_size=500),  # any Unicode scalar value: control characters, emoji, RTL ...
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join),
    st.text(alphabet=st.characters(categories=["P", "S", "Z"]), min_size=1, max_size=60),
    st.sampled_from([q.question for q in load_questions(ROOT / "eval" / "questions.jsonl")]),
)


@pytest.fixture(scope="module")
def documents(settings) -> dict[str, str]:
    docs, _ = read_corpus(settings.corpus_dir)
    return {d.doc_id: d.text for d in docs}


def check(answer: Answer, result: SearchResult, documents: dict[str, str], max_sentences: int) -> None:
    """The composer's promises, whatever it was given."""
    assert answer.disclaimer == DISCLAIMER
    data = answer.to_dict()
    assert data["disclaimer"] == DISCLAIMER
    json.dumps(data, ensure_ascii=False, allow_nan=False)  # what the API sends must serialize
    assert 0.0 <= answer.confidence <= 1.0
    if answer.abstained:
        assert answer.sentences == [] and answer.citations == []
        assert answer.text == NOT_FOUND
        return
    assert 1 <= len(answer.blocks) <= max_sentences
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    given = [p.chunk for p in result.passages]
    for c in answer.citations:
        chunk = c.passage.chunk
        # One of the passages it was given, widened at most to the end of a list it quotes or back
        # to the lead-in that announces the section it is.
        assert any(
            g.doc_id == chunk.doc_id and chunk.start <= g.start and g.end <= chunk.end for g in given
        ), "cites a passage it was not given"
    assert {s.citation for s in answer.sentences} == {c.n for c in answer.citations}
    for s in answer.sentences:
        chunk = answer.citations[s.citation - 1].passage.chunk
        assert s.doc_id == chunk.doc_id
        assert chunk.start <= s.start < s.end <= chunk.end
        assert chunk.text[s.start - chunk.start : s.end - chunk.start] == s.source
        assert s.source in chunk.text
        assert documents[s.doc_id][s.start : s.end] == s.source  # verbatim in the corpus file too
        assert s.text
    for block in answer.blocks:
        assert block.text in answer.text


@hsettings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    question=QUESTIONS,
    top_k=st.integers(min_value=1, max_value=50),
    mode=st.sampled_from(["hybrid", "dense", "lexical"]),
)
@example(question="医保卡余额怎么查", top_k=5, mode="hybrid")
@example(question="醫保卡餘額能不能提現", top_k=5, mode="hybrid")
@example(question="。", top_k=1, mode="lexical")
@example(question="x" * 500, top_k=50, mode="dense")
def test_any_question_gets_a_cited_verbatim_answer_or_abstains(answerer, documents, question, top_k, mode):
    result = answerer.retriever.search(question, top_k, mode)
    check(answerer.answer(question, result), result, documents, answerer.settings.answer_max_sentences)


@st.composite
def passages_and_vector(
    draw: st.DrawFn, n_chunks: int, dim: int
) -> tuple[list[tuple[int, float]], np.ndarray]:
    rows = draw(st.lists(st.integers(0, n_chunks - 1), max_size=10, unique=True))
    scores = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=len(rows), max_size=len(rows)))
    kind = draw(st.sampled_from(["random", "zero", "chunk"]))
    if kind == "zero":
        vector = np.zeros(dim, dtype=np.float32)
    else:
        seed = draw(st.integers(0, 2**32 - 1))
        vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
        vector /= np.linalg.norm(vector)
    return list(zip(rows, scores, strict=True)), (vector, kind)


@hsettings(max_examples=500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(question=QUESTIONS, data=st.data())
def test_any_passages_any_vector_keep_the_promises(answerer, documents, question, data):
    index = answerer.retriever.index
    picks, (vector, kind) = data.draw(passages_and_vector(len(index), index.vectors.shape[1]))
    if kind == "chunk" and picks:
        vector = np.asarray(index.vectors[picks[0][0]], dtype=np.float32)
    passages = [
        Passage(index.chunks[row], (row,), score, rank=rank) for rank, (row, score) in enumerate(picks, 1)
    ]
    result = SearchResult(question, "hybrid", passages, tokenize(question), vector)
    check(answerer.answer(question, result), result, documents, answerer.settings.answer_max_sentences)
