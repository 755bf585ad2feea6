"""Confidence: in-domain questions clear the abstain threshold, off-topic ones do not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from answer.confidence import confidence, coverage, signals
from answer.question import question_of
from answer.score import load_model

IN_DOMAIN = (
    "医保卡余额怎么查",
    "在厦门交的医保去其他城市能用吗",
    "家庭共济可以给哪些亲属用",
    "医保卡里的钱能取现吗",
    "醫保卡餘額能不能提現",
)
OFF_TOPIC = ("明天北京会下雨吗", "红烧肉怎么做", "Python怎么读取文件", "今天股市行情怎么样")
ENGLISH_IN_DOMAIN = (
    "How do I check my medical insurance balance by phone?",
    "Can my family members use the money in my medical insurance account?",
)
ENGLISH_OFF_TOPIC = (
    "What is the weather in Paris?",
    "How do I open a bank account?",
    "What is the exchange rate of the dollar?",
)


def _confidence(answerer, question: str) -> tuple[float, dict[str, float]]:
    answer = answerer.ask(question)
    return answer.confidence, answer.evidence


def test_confidence_is_bounded_and_grows_with_each_signal(answerer):
    model = answerer.model
    assert confidence({"cosine": 0.0, "coverage": 0.0}, model) < 1e-6
    assert confidence({"cosine": 1.0, "coverage": 1.0}, model) > 0.999
    low = confidence({"cosine": 0.85, "coverage": 0.2}, model)
    assert confidence({"cosine": 0.86, "coverage": 0.2}, model) > low
    assert confidence({"cosine": 0.85, "coverage": 0.3}, model) > low
    # An answer unit closer than any passage counts as close as that unit, never less.
    assert confidence({"cosine": 0.85, "coverage": 0.2, "unit_cosine": 0.80}, model) == low


def test_coverage_weights_rare_terms_more_than_common_ones(retriever):
    idf = retriever.index.lexical.idf
    common, rare = "医保", "家庭共济"
    assert idf(rare) > idf(common)
    terms = [common, rare]
    assert coverage(terms, ["家庭共济的规定"], idf) > coverage(terms, ["医保的规定"], idf)
    assert coverage(terms, ["医保和家庭共济"], idf) == pytest.approx(1.0)
    assert coverage(terms, ["红烧肉"], idf) == 0.0
    assert coverage([], ["医保"], idf) == 0.0


def test_coverage_matches_traditional_text_to_simplified_terms(retriever):
    assert coverage(["医保", "余额"], ["醫保卡餘額"], retriever.index.lexical.idf) == pytest.approx(1.0)


@pytest.mark.parametrize("question", IN_DOMAIN)
def test_in_domain_questions_clear_the_threshold(answerer, question):
    conf, evidence = _confidence(answerer, question)
    assert conf >= answerer.model.threshold, (question, conf, evidence)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_fall_below_the_threshold(answerer, question):
    conf, evidence = _confidence(answerer, question)
    assert conf < answerer.model.threshold, (question, conf, evidence)


@pytest.mark.parametrize("question", ENGLISH_IN_DOMAIN)
def test_an_english_question_about_the_documents_is_answered(answerer, question):
    answer = answerer.ask(question)
    assert not answer.abstained, (question, answer.confidence, answer.evidence)


@pytest.mark.parametrize("question", ENGLISH_OFF_TOPIC)
def test_an_english_question_the_glossary_barely_knows_abstains(answerer, question):
    # 「bank account」: only 「account」 is a word of these documents.
    answer = answerer.ask(question)
    assert answer.abstained, (question, answer.confidence, answer.evidence)


def test_confidence_separates_in_domain_from_off_topic(answerer):
    lowest_in = min(_confidence(answerer, q)[0] for q in IN_DOMAIN)
    highest_off = max(_confidence(answerer, q)[0] for q in OFF_TOPIC)
    assert lowest_in > highest_off


def test_answer_reports_the_confidence_and_evidence_it_decided_on(answerer):
    answer = answerer.ask("医保卡余额怎么查")
    assert set(answer.evidence) == {"cosine", "coverage", "unit_cosine", "shape"}
    assert 0.0 <= answer.confidence <= 1.0
    assert answer.confidence == pytest.approx(confidence(answer.evidence, answerer.model))
    assert answer.to_dict()["confidence"] == round(answer.confidence, 3)


def test_nothing_retrieved_means_no_evidence_and_an_abstention(answerer):
    result = answerer.retriever.search("医保卡余额怎么查")
    empty = replace(result, passages=[])
    read = question_of(empty)
    assert signals(read, [], answerer.sources, result.query_vector, 0.0) == {"cosine": 0.0, "coverage": 0.0}
    answer = answerer.answer("医保卡余额怎么查", empty)
    assert answer.abstained and not answer.citations and "仅供参考" in answer.disclaimer


def test_a_higher_threshold_makes_the_same_question_abstain(retriever, settings):
    from answer.compose import Answerer

    model = load_model(settings.answer_model)
    strict = Answerer(retriever, settings, replace(model, threshold=1.01))
    lenient = Answerer(retriever, settings, replace(model, threshold=0.0))
    assert strict.ask("医保卡余额怎么查").abstained
    assert not lenient.ask("医保卡余额怎么查").abstained
