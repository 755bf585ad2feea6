"""Answers built from the documents' structure, checked as a reader would: the opening says what
the question asks, a list comes with the sentence that introduces it, and the place is named."""

from __future__ import annotations

import pytest

from answer.intent import HOW_TO, NUMBER, OTHER, WHICH, WHY, YES_NO, answer_pattern, question_intent
from answer.records import LIST
from eval.answer_checks import dangling, glued_quotes
from eval.questions import load_questions
from ingest.textnorm import fold
from settings import ROOT


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("医保卡里的钱能不能取出来", YES_NO),
        ("在厦门交的医保去其他城市能用吗", YES_NO),
        ("醫保卡餘額怎麼查", HOW_TO),
        ("微信里怎么查自己医保卡还剩多少钱", HOW_TO),
        ("打医保热线查余额老是打不进去怎么回事", WHY),
        ("新农合在二级医院住院报销多少", NUMBER),
        ("医保服务热线电话是多少", NUMBER),
        ("家庭共济可以绑定哪些亲属", WHICH),
        ("为什么医保个人账户的余额比我实际交的钱少", WHY),
        ("医保个人账户", OTHER),
        ("四川地区，将五月艾称之为什么？", OTHER),
        # What follows, not how: no list of steps is wanted.
        ("医保卡的钱要是违规提现了会怎么样", OTHER),
    ],
)
def test_question_intent(question, intent):
    assert question_intent(question) == intent


@pytest.mark.parametrize(
    ("question", "fits", "misses"),
    [
        ("路口镇管辖下有几个村和社区？", "区划调整后为8个村、2个社区。", "2004年村级区划调整"),
        ("蒙泰罗在2005年美国大奖赛上获得第几名？", "获得第3名。", "2005年美国大奖赛"),
        ("打12333查医保几点打比较好", "建议避开高峰期(如9-11点)", "拨打12333"),
        ("该校是哪一年成立的", "学校创办于1998年", "学校有两个校区"),
        ("新农合能报销多少钱", "报销限额为5000元/年", "报销比例可达70%"),
        ("门诊一年最多能报多少", "年度门诊报销封顶线可能为240元", "300元以下的费用报销30%"),
        ("自理是什么意思", "自理是指参保人员使用…", "按规定应由个人自负或自理的普通门诊"),
        ("违规提现了会怎么样", "违反规定可能导致账户冻结", "其使用和提取受到严格限制"),
        ("家庭共济在哪里绑定", "通过“医保服务平台APP”…完成绑定", "就医购药时,需使用患者本人的医保卡"),
        ("能绑定哪些亲属", "绑定配偶、父母、子女等近亲属", "用于支付家庭成员的就医、购药、购买商业保险"),
        ("可以给哪些亲属用", "近亲属包括配偶、父母、子女", "用于支付家庭成员的就医、购药、购买商业保险"),
        ("登录要输入什么", "输入身份证号、社保卡号、密码", "登录所在地区的人社局网站或医保局网站。"),
        ("醫保卡餘額怎麼查", "以下是几种常见的查询方法:", "该个人自付的部分由自己用医保卡余额和现金支付。"),
    ],
)
def test_a_count_rank_year_cap_price_or_meaning_question_knows_the_shape_of_its_answer(
    question, fits, misses
):
    pattern = answer_pattern(question)
    assert pattern.search(fold(fits)) and not pattern.search(fold(misses))


def test_a_question_not_asking_for_a_count_has_no_answer_shape():
    assert answer_pattern("医保卡余额怎么用") is None and answer_pattern("新农合报销比例是多少") is None


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
