"""The scoring stage alone: features and scores of hand-made units and vectors, no index and no
embedding model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from answer.candidates import candidates
from answer.features import FEATURES, feature_matrix
from answer.question import read_question
from answer.score import AnswerModel, load_model, probability, score
from answer.sources import Sources
from index.retriever import Passage
from index.units import UnitTable
from ingest.records import AnswerUnit, Chunk
from settings import Settings

DOC = "d.txt"
SENTENCES = (
    "拨打全国统一医保客服热线12333,按语音提示输入身份证号。",
    "建议避开高峰期(如9-11点)以减少等待时间。",
    "医保卡可以在定点药店刷卡购药。",
)
TEXT = "".join(SENTENCES)


def _sources(vectors: list[list[float]]) -> tuple[Sources, Passage]:
    units, start = [], 0
    for sentence in SENTENCES:
        units.append(AnswerUnit(DOC, start, start + len(sentence), "body", sentence, context="电话查询"))
        start += len(sentence)
    table = UnitTable(units, np.asarray(vectors, dtype=np.float32))
    chunk = Chunk("c0", DOC, "医保余额怎么查", "医保余额怎么查", TEXT, 0, len(TEXT))
    sources = Sources(table, {DOC: TEXT}.get, lambda _: 1.0, np.zeros((1, 2), dtype=np.float32))
    # Ranked first by its own cosine and by its keywords: the passages agree it is the one.
    return sources, Passage(chunk, (0,), 1.0, dense_rank=1, lexical_rank=1, rank=1)


def _features(question: str, terms: list[str], vectors: list[list[float]]):
    sources, passage = _sources(vectors)
    asked = read_question(question, terms, None)
    cands = candidates(asked, [passage], sources, 300)
    return cands, feature_matrix(asked, [passage], cands, np.array([1.0, 0.0]), sources)


def _column(name: str) -> int:
    return FEATURES.index(name)


def test_features_are_named_and_computed_from_the_units_and_vectors_alone():
    vectors = [[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]]
    cands, features = _features("12333什么时段打人少", ["12333", "人少"], vectors)
    assert features.shape == (3, len(FEATURES))
    assert [c.text for c in cands] == list(SENTENCES)
    # The cosine is the unit vector's product with the question's.
    assert features[:, _column("cosine")] == pytest.approx([0.9, 0.8, 0.1], abs=1e-6)
    # Only the sentence with the hours carries the shape 「什么时段」 asks for.
    assert features[:, _column("shape")].tolist() == [0.0, 1.0, 0.0]
    # Only the first holds the question's rarest term.
    overlap = features[:, _column("overlap")]
    assert overlap[0] > overlap[1] == overlap[2] == 0.0
    assert features[:, _column("passage")].tolist() == [1.0, 1.0, 1.0]


def test_the_score_is_the_features_weighed_and_nothing_else():
    _, features = _features("12333什么时段打人少", ["12333", "人少"], [[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])
    weights = np.zeros(len(FEATURES))
    weights[_column("cosine")] = 1.0
    by_cosine = score(features, weights)
    assert by_cosine.tolist() == pytest.approx(features[:, _column("cosine")].tolist())
    assert int(np.argmax(by_cosine)) == 0
    # Weighing what the question asks for enough lets the sentence with the hours win.
    weights[_column("shape")] = 0.2
    assert int(np.argmax(score(features, weights))) == 1
    assert score(features, weights).tolist() == score(features.copy(), weights.copy()).tolist()


def test_the_fitted_model_prefers_the_block_carrying_what_is_asked_among_equals():
    model = load_model(Settings().answer_model)
    _, features = _features("12333什么时段打人少", ["12333"], [[0.8, 0.2], [0.8, 0.2], [0.1, 0.9]])
    features[:, _column("overlap")] = features[:, _column("focus")] = 0.0
    scores = score(features, model.vector)
    assert scores[1] > scores[0] > scores[2]


def test_the_model_file_weighs_every_feature_and_says_what_fitted_it():
    model = load_model(Settings().answer_model)
    assert len(model.weights) == len(FEATURES)
    assert model.weights[_column("cosine")] > 0
    assert model.margin > 0 and 0 < model.threshold < 1
    assert "cmrc2018_train" in model.about["fitted_on"]
    assert AnswerModel.from_dict(model.to_dict()) == model


def test_a_model_lacking_a_feature_is_refused_with_its_name():
    data = load_model(Settings().answer_model).to_dict()
    del data["weights"]["shape"]
    with pytest.raises(ValueError, match="shape"):
        AnswerModel.from_dict(data)


def test_abstention_grows_with_the_evidence():
    model = load_model(Settings().answer_model)
    low = {"cosine": 0.80, "unit_cosine": 0.80, "coverage": 0.2}
    assert probability({**low, "coverage": 0.9}, model) > probability(low, model)
    assert probability({**low, "cosine": 0.9, "unit_cosine": 0.9}, model) > probability(low, model)
    assert 0.0 <= probability(low, replace(model, abstain_bias=-1e6)) <= 1.0
