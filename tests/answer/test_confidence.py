"""Confidence: in-domain questions clear the abstain threshold, off-topic ones do not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from answer.confidence import confidence, coverage, signals

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
    result = answerer.retriever.search(question)
    evidence = signals(result, answerer.retriever.index, result.query_vector)
    return confidence(evidence, answerer.settings), evidence


def test_confidence_is_bounded_and_grows_with_each_signal(settings):
    lo, hi = settings.cosine_floor, settings.cosine_ceiling
    mid = (lo + hi) / 2
    assert confidence({"cosine": 0.0, "coverage": 0.0}, settings) == 0.0
    assert confidence({"cosine": 1.0, "coverage": 1.0}, settings) == pytest.approx(1.0)
    assert confidence({"cosine": lo - 0.1, "coverage": 0.0}, settings) == 0.0
    assert confidence({"cosine": hi + 0.1, "coverage": 1.0}, settings) == pytest.approx(1.0)
    low = confidence({"cosine": mid, "coverage": 0.2}, settings)
    assert confidence({"cosine": mid + 0.01, "coverage": 0.2}, settings) > low
    assert confidence({"cosine": mid, "coverage": 0.3}, settings) > low


def test_coverage_weight_decides_how_much_lexical_evidence_counts(settings):
    evidence = {"cosine": settings.cosine_ceiling, "coverage": 0.0}
    assert confidence(evidence, replace(settings, coverage_weight=0.0)) == pytest.approx(1.0)
    assert confidence(evidence, replace(settings, coverage_weight=1.0)) == pytest.approx(0.0)


def test_coverage_weights_rare_terms_more_than_common_ones(retriever):
    lexical = retriever.index.lexical
    common, rare = "医保", "家庭共济"
    assert lexical.idf(rare) > lexical.idf(common)
    terms = [common, rare]
    assert coverage(terms, ["家庭共济的规定"], lexical) > coverage(terms, ["医保的规定"], lexical)
    assert coverage(terms, ["医保和家庭共济"], lexical) == pytest.approx(1.0)
    assert coverage(terms, ["红烧肉"], lexical) == 0.0
    assert coverage([], ["医保"], lexical) == 0.0


def test_coverage_matches_traditional_text_to_simplified_terms(retriever):
    assert coverage(["医保", "余额"], ["醫保卡餘額"], retriever.index.lexical) == pytest.approx(1.0)


@pytest.mark.parametrize("question", IN_DOMAIN)
def test_in_domain_questions_clear_the_threshold(answerer, settings, question):
    conf, evidence = _confidence(answerer, question)
    assert conf >= settings.abstain_threshold, (question, conf, evidence)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_fall_below_the_threshold(answerer, settings, question):
    conf, evidence = _confidence(answerer, question)
    assert conf < settings.abstain_threshold, (question, conf, evidence)


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


def test_answer_reports_the_confidence_and_evidence_it_decided_on(answerer, settings):
    answer = answerer.ask("医保卡余额怎么查")
    assert set(answer.evidence) == {"cosine", "coverage", "unit_cosine"}
    assert 0.0 <= answer.confidence <= 1.0
    assert answer.confidence == pytest.approx(confidence(answer.evidence, settings))
    assert answer.to_dict()["confidence"] == round(answer.confidence, 3)


def test_nothing_retrieved_means_no_evidence_and_an_abstention(answerer):
    result = answerer.retriever.search("医保卡余额怎么查")
    empty = replace(result, passages=[])
    assert signals(empty, answerer.retriever.index, result.query_vector) == {"cosine": 0.0, "coverage": 0.0}
    answer = answerer.answer("医保卡余额怎么查", empty)
    assert answer.abstained and not answer.citations and "仅供参考" in answer.disclaimer


def test_a_higher_threshold_makes_the_same_question_abstain(retriever, settings):
    from answer.compose import Answerer

    strict = Answerer(retriever, replace(settings, abstain_threshold=1.01))
    lenient = Answerer(retriever, replace(settings, abstain_threshold=0.0))
    assert strict.ask("医保卡余额怎么查").abstained
    assert not lenient.ask("医保卡余额怎么查").abstained
