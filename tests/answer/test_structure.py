"""Answers built from the documents' structure, checked as a reader would: the opening says what
the question asks, a list comes with the sentence that introduces it, and the place is named."""

from __future__ import annotations

import pytest

from answer.question import read_question
from answer.records import LIST
from eval.answer_checks import dangling, glued_quotes
from eval.questions import load_questions
from ingest.textnorm import fold
from settings import ROOT


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("医保卡里的钱能不能取出来", "yes_no"),
        ("在厦门交的医保去其他城市能用吗", "confirm"),
        ("醫保卡餘額怎麼查", "look_up"),
        ("微信里怎么查自己医保卡还剩多少钱", "look_up"),
        ("打医保热线查余额老是打不进去怎么回事", "why"),
        ("新农合在二级医院住院报销多少", "number"),
        ("医保服务热线电话是多少", "number"),
        ("家庭共济可以绑定哪些亲属", "which"),
        ("为什么医保个人账户的余额比我实际交的钱少", "why"),
        ("医保个人账户", None),
        ("四川地区，将五月艾称之为什么？", None),
        # What follows, not how: no list of steps is wanted.
        ("医保卡的钱要是违规提现了会怎么样", "consequence"),
    ],
)
def test_the_question_s_first_type_is_what_its_words_ask(question, kind):
    read = read_question(question, [], None)
    assert (read.kind.name if read.kind else None) == kind


@pytest.mark.parametrize(
    ("question", "opening"),
    [("在厦门交的医保去其他城市能用吗", "可以"), ("醫保卡餘額能不能提現", "不能")],
)
def test_a_yes_no_question_opens_with_the_yes_or_no(answerer, question, opening):
    answer = answerer.ask(question)
    first = fold(answer.blocks[0].sentence.text)
    assert fold(opening) in first[:30], answer.text


def test_a_which_cases_question_gets_the_lead_in_and_its_cases_as_a_list(answerer):
    answer = answerer.ask("医保卡里的钱什么情况下可以取出来")
    lists = [b for b in answer.blocks if b.kind == LIST]
    assert lists, answer.text
    items = lists[0].items
    assert len(items) >= 3
    text = "".join(i.source for i in items)
    for case in ("出境定居", "异地就医", "死亡证明"):
        assert case in text, answer.text
    doc = (ROOT / "corpus" / items[0].doc_id).read_text(encoding="utf-8")
    for item in items:
        # Each item is a verbatim span that starts after its list marker (「1、」).
        assert doc[item.start : item.end] == item.source
        assert not item.source[0].isdigit()


def test_a_how_to_question_gets_its_steps_as_a_list(answerer):
    answer = answerer.ask("未成年医保怎么办理")
    assert answer.blocks[0].kind == LIST, answer.text
    steps = answer.blocks[0].items
    assert len(steps) >= 3
    assert "准备材料" in steps[0].source


@pytest.mark.parametrize(
    ("question", "row", "rate"),
    [
        ("去三级医院住院,新农合能报几成?", "三级医院", "20%"),
        ("新农合在二级医院住院报销多少", "二级医院", "55%"),
    ],
)
def test_a_question_naming_a_table_row_opens_with_that_row(answerer, question, row, rate):
    # 湘潭's table keys each row by the kind of hospital (「三级医院:1000元以下的费用报销20%;…」).
    answer = answerer.ask(question)
    opening = answer.blocks[0].text
    assert opening.startswith(row) and rate in opening, answer.text
    assert "大病" not in answer.text, answer.text


def test_a_balance_question_gets_the_steps_not_one_step_cut_from_them(answerer):
    answer = answerer.ask("石家庄去医保窗口怎么查余额")
    assert answer.blocks[0].kind == LIST, answer.text
    steps = answer.blocks[0].items
    assert len(steps) >= 2 and "余额" in steps[-1].source, answer.text


def test_no_answer_ends_on_a_lead_in_or_glues_a_list_marker(answerer):
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    for q in questions:
        answer = answerer.ask(q.question)
        assert glued_quotes(answer) == 0, (q.question, answer.text)
        assert not dangling(answer), (q.question, answer.text)


def test_a_question_naming_xiamen_is_answered_from_the_xiamen_source(answerer):
    answer = answerer.ask("厦门医保补缴怎么计算")
    assert answer.citations[0].passage.chunk.region == "厦门", answer.text
    assert "其他地区" not in answer.scope and "可能不同" not in answer.scope


@pytest.mark.parametrize(
    "question", ["杭州医保卡余额怎么查", "How do I check my medical insurance balance in Hangzhou?"]
)
def test_a_city_the_corpus_lacks_is_told_whose_rules_it_reads(answerer, question):
    answer = answerer.ask(question)
    assert not answer.abstained
    regions = {c.passage.chunk.region for c in answer.citations} - {None}
    assert "杭州可能不同" in answer.scope, answer.scope
    assert all(r in answer.scope for r in regions)


def test_a_region_filter_keeps_only_that_place(retriever):
    result = retriever.search("医保卡余额怎么查", 5, region="石家庄")
    assert result.passages
    assert all(p.chunk.region == "石家庄" or "石家庄" in p.chunk.section for p in result.passages)
