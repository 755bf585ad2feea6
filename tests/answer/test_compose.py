"""The answer composer on the real index: quotes are verbatim, cited, in the asker's script."""

from __future__ import annotations

import itertools
import re
from functools import cache
from pathlib import Path

import pytest

from answer.records import NOT_FOUND, Answer
from ingest.structure import heading_rank
from ingest.textnorm import fold, is_traditional, to_simplified, to_traditional
from settings import ROOT

CORPUS = ROOT / "corpus"

# question → the corpus file (by its number prefix) the answer must cite.
ANSWERABLE = {
    "医保卡余额怎么查": None,
    "在厦门交的医保去其他城市能用吗": "000",
    "家庭共济可以给哪些亲属用": "003",
    "医保卡里的钱能取现吗": None,
    "醫保卡餘額能不能提現": "000",
    "退休人员医保卡每月划入多少": "004",
}
OUT_OF_DOMAIN = (
    "明天北京会下雨吗",
    "红烧肉怎么做",
    "明天北京會下雨嗎",
    "Python怎么读取文件",
    "周末去哪里看电影",
)


@cache
def doc_text(doc_id: str) -> str:
    """The corpus file as ingest reads it (offsets count characters of this text)."""
    return (CORPUS / doc_id).read_bytes().decode("utf-8-sig")


@cache
def heading_lines(doc_id: str) -> frozenset[str]:
    """Every line of the document that the structure parser treats as a heading."""
    lines = (line.strip() for line in doc_text(doc_id).splitlines())
    return frozenset(line for line in lines if line and heading_rank(line) is not None)


_asked: dict[str, Answer] = {}


@pytest.fixture
def ask(answerer):
    """``answerer.ask`` once per question for the whole session (the tests only read answers)."""

    def _ask(question: str) -> Answer:
        if question not in _asked:
            _asked[question] = answerer.ask(question)
        return _asked[question]

    return _ask


@pytest.mark.parametrize("question", ANSWERABLE)
def test_citations_are_real_spans_of_the_corpus(ask, question):
    answer = ask(question)
    assert not answer.abstained, (answer.confidence, answer.evidence)
    assert answer.citations
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        chunk = c.passage.chunk
        assert (CORPUS / chunk.doc_id).is_file()
        assert doc_text(chunk.doc_id)[chunk.start : chunk.end] == chunk.text
        # A citation is one of the passages the search returned, not something found elsewhere:
        # widened at most to the end of a list it quotes, or back to the lead-in announcing the
        # sections the passage is one of.
        assert any(
            p.chunk.doc_id == chunk.doc_id and chunk.start <= p.chunk.start and p.chunk.end <= chunk.end
            for p in answer.search.passages
        )


@pytest.mark.parametrize("question", ANSWERABLE)
def test_every_sentence_is_a_verbatim_quote_of_its_cited_passage(ask, question):
    answer = ask(question)
    assert answer.sentences
    cited = {c.n: c.passage.chunk for c in answer.citations}
    for s in answer.sentences:
        chunk = cited[s.citation]
        assert s.doc_id == chunk.doc_id
        assert doc_text(s.doc_id)[s.start : s.end] == s.source
        assert chunk.start <= s.start < s.end <= chunk.end
        assert s.source in chunk.text
        # What is shown is the source, at most converted between simplified and traditional
        # and with the line breaks between a label and its text shown as one space.
        assert fold(s.text) == fold(" ".join(s.source.split()))
    # Every citation is used by some quote, and the text shows each block with its marker.
    assert {s.citation for s in answer.sentences} == set(cited)
    for block in answer.blocks:
        assert block.text in answer.text


@pytest.mark.parametrize("question", ANSWERABLE)
def test_answers_quote_no_headings_labels_or_questions(ask, question):
    answer = ask(question)
    for block in answer.blocks:
        # A lead-in (「…如下:」) opens a block only with what it introduces after it.
        last = (block.items or [block.sentence])[-1].source.strip()
        assert not last.endswith(("?", "？", ":", "："))
        for s in block.quotes:
            assert s.source.strip() not in heading_lines(s.doc_id)
        assert len(re.findall(r"[\u3400-\u9fff]", block.sentence.source)) >= 2


@pytest.mark.parametrize("question", ANSWERABLE)
def test_answers_stay_within_the_length_limits(ask, question, settings):
    answer = ask(question)
    assert 1 <= len(answer.blocks) <= settings.answer_max_sentences
    if len(answer.sentences) > 1:
        assert sum(len(s.source) for s in answer.sentences) <= settings.answer_max_chars
    # No sentence is quoted twice.
    assert len({(s.doc_id, s.start) for s in answer.sentences}) == len(answer.sentences)


@pytest.mark.parametrize(("question", "prefix"), [(q, d) for q, d in ANSWERABLE.items() if d])
def test_answers_cite_the_document_that_holds_the_answer(ask, question, prefix):
    answer = ask(question)
    assert answer.citations[0].passage.chunk.doc_id.startswith(prefix + "_")


def test_balance_question_is_answered_with_the_ways_to_look_it_up(ask):
    # The passages found are sections of one article (电话查询, 线上查询方法, 线下查询方法…); the
    # answer is the list that announces them (after the sentence that leads into it), each way with
    # its first step, not one way's steps. 线下查询方法 lies two screens after the list's lead-in.
    answer = ask("医保卡余额怎么查")
    ways = next(block for block in answer.blocks[:2] if block.kind == "list")
    assert "方法" in ways.sentence.text, answer.text
    captions = [item.caption for item in ways.items]
    assert len(ways.items) >= 3 and all(captions), answer.text
    assert any("电话" in c for c in captions) and any("线上" in c or "网上" in c for c in captions)
    assert any("线下" in c for c in captions), answer.text
    assert all(c not in item.source for c, item in zip(captions, ways.items, strict=True))
    assert "家人" not in answer.text and "提取" not in answer.text, answer.text


def test_a_question_naming_one_way_gets_that_way_not_the_list_of_ways(ask):
    answer = ask("支付宝怎么查医保余额")
    assert "支付宝" in answer.blocks[0].text, answer.text
    assert not any(item.caption for block in answer.blocks for item in block.items), answer.text


def test_an_english_question_is_answered_from_the_chinese_documents(ask):
    answer = ask("How do I check my medical insurance balance by phone?")
    assert "12333" in answer.blocks[0].text, answer.text


def test_a_question_asking_how_to_look_up_a_number_gets_the_way_not_a_number(ask):
    # 「还剩多少钱」 is the asker's own balance: the documents hold where WeChat shows it.
    answer = ask("微信里怎么查自己医保卡还剩多少钱")
    assert "微信" in answer.blocks[0].text, answer.text


def test_cash_question_says_it_cannot_be_withdrawn(ask):
    answer = ask("医保卡里的钱能取现吗")
    assert any(re.search("不能|无法|不可", s.source) for s in answer.sentences), answer.text
    assert {c.passage.chunk.doc_id[:3] for c in answer.citations} <= {"000", "001", "004"}


def test_xiamen_answer_names_the_city_and_date(ask):
    answer = ask("在厦门交的医保去其他城市能用吗")
    assert "厦门" in answer.sentences[0].source
    first = answer.citations[0].passage.chunk
    assert first.region == "厦门"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first.date or "")
    assert "厦门" in answer.scope and first.date in answer.scope
    assert answer.to_dict()["citations"][0]["region"] == "厦门"


def test_family_sharing_answer_is_about_family_members(ask):
    answer = ask("家庭共济可以给哪些亲属用")
    assert any("家庭" in s.source for s in answer.sentences), answer.text


def test_traditional_question_gets_a_traditional_answer(ask):
    answer = ask("醫保卡餘額能不能提現")
    body = "".join(s.text for s in answer.sentences)
    assert is_traditional(body), body
    for s in answer.sentences:
        assert s.text == to_traditional(" ".join(s.source.split()))
    # The source (simplified in the corpus) is converted, so the shown text differs from it.
    assert any(s.text != s.source for s in answer.sentences)
    assert "來源" in answer.text


def test_simplified_question_answered_from_a_traditional_source_reads_simplified(ask):
    answer = ask("退休人员医保卡每月划入多少")
    from_004 = [s for s in answer.sentences if s.doc_id.startswith("004_")]
    assert from_004, answer.text
    assert any(is_traditional(s.source) for s in from_004)
    for s in answer.sentences:
        assert s.text == to_simplified(s.source)
        assert not is_traditional(s.text), s.text


@pytest.mark.parametrize("question", ANSWERABLE)
def test_every_answer_carries_the_disclaimer(ask, question):
    answer = ask(question)
    assert "仅供参考" in answer.disclaimer
    assert "仅供参考" in answer.to_dict()["disclaimer"]


@pytest.mark.parametrize("question", OUT_OF_DOMAIN)
def test_out_of_domain_questions_abstain(ask, question):
    answer = ask(question)
    assert answer.abstained, (question, answer.confidence, answer.evidence)
    assert answer.sentences == [] and answer.citations == []
    assert answer.text == NOT_FOUND and "资料中未找到相关内容" in answer.text
    assert "仅供参考" in answer.disclaimer
    data = answer.to_dict()
    assert data["abstained"] is True and data["citations"] == [] and data["sentences"] == []


def test_answer_is_built_from_exactly_the_searched_passages(answerer):
    """``ask`` = search, then compose from that result: the same question gives the same answer."""
    question = "医保卡里的钱能取现吗"
    result = answerer.retriever.search(question, 3)
    composed = answerer.answer(question, result)
    asked = answerer.ask(question, 3)
    assert [c.passage.chunk.id for c in asked.citations] == [c.passage.chunk.id for c in composed.citations]
    assert asked.text == composed.text
    searched = {(p.chunk.doc_id, p.chunk.start, p.chunk.end) for p in result.passages}
    assert {
        (c.passage.chunk.doc_id, c.passage.chunk.start, c.passage.chunk.end) for c in asked.citations
    } <= (searched)


def test_top_k_limits_the_passages_an_answer_may_cite(answerer):
    answer = answerer.ask("医保卡余额怎么查", 1)
    (searched,) = (p.chunk for p in answer.search.passages)
    (cited,) = (c.passage.chunk for c in answer.citations)
    assert cited.doc_id == searched.doc_id and cited.start <= searched.start and searched.end <= cited.end


def test_answer_json_has_the_documented_keys(ask):
    data = ask("医保卡余额怎么查").to_dict()
    assert {"question", "answer", "abstained", "disclaimer", "citations", "timings_ms"} <= set(data)
    citation_keys = {"n", "doc", "title", "section", "date", "region", "start", "end", "text", "score"}
    assert all(citation_keys <= set(c) for c in data["citations"])
    assert data["answer"].count("[1]") >= 1
    assert Path(CORPUS / data["citations"][0]["doc"]).is_file()


def test_a_sentence_cut_at_a_semicolon_is_quoted_to_its_end(ask):
    # 「醫保卡分兩個帳戶,個人帳戶,…;統籌帳戶,…」: the opening names both accounts, not only the first.
    opening = ask("醫保卡分成哪兩個帳戶").blocks[0].text
    assert "個人帳戶" in opening and "統籌帳戶" in opening, opening


def test_a_sentence_that_points_back_opens_with_the_sentence_it_points_to(ask):
    # 「但也有一些地区的…村卫生室、卫生所为60%。」 answers only after the sentence it qualifies.
    opening = ask("在村卫生室看病,新农合能报多少比例").blocks[0]
    assert not opening.sentence.source.startswith("但"), opening.text
    assert "70%或80%" in opening.text and "60%" in opening.text, opening.text


def test_sentences_quoted_one_after_the_other_read_as_one_quote(ask):
    # 「個人賬戶包括當年資金和歷年資金。」 and the definitions right after it are one passage of the
    # source; the opening carries both definitions, cited once.
    answer = ask("醫保個人賬戶的當年資金跟歷年資金有什麼不同?")
    opening = answer.blocks[0]
    assert "當年資金是指" in opening.text and "歷年資金是指" in opening.text, answer.text
    assert opening.text.count("[1]") == 1
    for a, b in itertools.pairwise(opening.quotes):
        assert a.end == b.start


def test_the_answer_reads_on_to_the_next_sentence_of_its_paragraph(ask):
    # 「…系统将播报账户余额。建议避开高峰期(如9-11点)以减少等待时间。」: the advice after the
    # hotline's instructions is what someone who cannot get through needs.
    answer = ask("打医保电话查余额打不通怎么办")
    assert "12333" in answer.blocks[0].text, answer.text
    assert "避开高峰期" in answer.blocks[0].text, answer.text


def test_a_rate_whose_sentence_lost_a_figure_in_scraping_is_still_quoted(ask):
    # 「退休人員按照本人養老金的 5%計入。」 was cut at its gap into a "label" and a bare 「5%計入。」,
    # so the retiree's rate could not be quoted; it is one list item of 「…資金劃入比例是:」 now.
    answer = ask("退休人员养老金按多少比例划入医保个人账户")
    assert "退休人员按照本人养老金的 5%计入" in answer.text, answer.text


def test_a_lead_in_whose_list_opens_with_a_title_is_quoted_with_the_sentence_under_it(ask):
    # 「医保卡内的资金性质为个人账户储蓄金,…具体规定如下:」 is followed by the title
    # 「医保卡内资金性质与用途」 and a label before the first rule; the lead-in says what was asked
    # and is quoted with that rule, not left out because a title stood in between.
    opening = ask("医保卡里的钱是什么性质的").blocks[0].text
    assert "个人账户储蓄金" in opening and "个人权益资金" in opening, opening


def test_steps_under_a_bare_lead_in_are_shown_with_the_heading_they_belong_to(ask):
    # 「步骤:」 alone does not say which way to look the balance up; the heading right above it
    # (「医保经办机构窗口查询」) is shown as the list's caption, and not quoted.
    answer = ask("石家庄去医保窗口怎么查余额")
    block = answer.blocks[0]
    assert block.kind == "list" and block.sentence.source.strip() == "步骤:", answer.text
    heading = doc_text(block.sentence.doc_id)[: block.sentence.start].rstrip().splitlines()[-1].strip()
    assert block.sentence.caption == heading
    assert block.text.startswith(f"【{heading}】步骤:")
    assert heading not in [q.source.strip() for q in block.quotes]
    assert block.to_dict()["caption"] == heading


def test_an_answer_does_not_run_on_into_the_next_article(ask):
    # 「医保卡内资金在以下特定情形下可申请提取:」 ends its article with nothing under it; the next
    # article (牡丹江's 经皮椎体成形术) has nothing to do with cash.
    answer = ask("医保卡的钱要是违规提现了会怎么样")
    assert "牡丹江" not in answer.text and "可申请提取:" not in answer.text, answer.text


def test_steps_are_quoted_in_order_and_a_forum_poster_is_no_caption(ask):
    answer = ask("用支付寶查醫保消費明細要怎麼操作")
    steps = answer.blocks[0]
    assert [item.text[:3] for item in steps.items] == ["第一步", "第二步", "第三步", "第四步"], answer.text
    # The heading above 「法律分析:」 is the floor's poster line 「4樓:張慕明」: who wrote, not what.
    assert steps.sentence.caption == "", answer.text


def test_a_sentence_that_runs_into_the_opening_is_read_before_it(ask):
    # 「当个人账户余额用尽时,普通门诊费用需自付…。住院治疗则不受账户余额影响…」 is one run of the
    # source: quoted as written, not the 住院 sentence first and the 门诊 one in a block after it.
    answer = ask("个人账户余额用完了,住院会不会受影响?")
    opening = answer.blocks[0]
    assert "住院治疗则不受账户余额影响" in opening.text and "普通门诊费用需自付" in opening.text, answer.text
    assert opening.text.index("普通门诊费用需自付") < opening.text.index("住院治疗则不受账户余额影响")
    for a, b in itertools.pairwise(opening.quotes):
        assert a.end == b.start


def test_a_sentence_the_opening_runs_into_follows_it_in_the_same_quote(ask):
    # 「…将面临3个月的固定待遇等待期。如果断保时间更长,等待期会相应增加」 is one run of the source.
    answer = ask("牡丹江居民医保错过了集中缴费期再参保,要等多久才能用")
    opening = answer.blocks[0]
    assert "3个月" in opening.text and "等待期会相应增加" in opening.text, answer.text
    for a, b in itertools.pairwise(opening.quotes):
        assert a.end == b.start


def test_a_question_naming_a_city_still_gets_the_ways_and_whose_they_are(ask):
    # The city is for the scope line to speak of, not a word the list of ways must hold.
    answer = ask("厦门医保卡余额怎么查")
    ways = answer.blocks[0]
    assert ways.kind == "list" and all(item.caption for item in ways.items), answer.text
    assert re.search("厦门(的规定)?可能不同", answer.text), answer.text


def test_a_list_of_sections_is_read_with_the_sentence_that_introduces_it(ask):
    # 「…的报销比例因就诊类型、医疗机构级别…而有所不同。以下是对新农合报销比例的具体说明:」: the
    # general answer comes first, then the kinds it announces (住院, 门诊, 大病), each under its
    # heading shown as a caption, not a heading line run into the row below it.
    answer = ask("2025年新农合报销比例")
    opening, overview = answer.blocks[:2]
    assert "报销比例因就诊类型" in opening.text, answer.text
    assert overview.kind == "list" and overview.sentence.source.startswith("以下是"), answer.text
    first = overview.items[0]
    assert first.caption == "住院报销" and first.source.startswith("乡(镇)卫生院"), answer.text
    assert all("\n" not in item.source for item in overview.items), answer.text


def test_a_case_labelled_as_a_key_keeps_its_label(ask):
    # 「1、退休移民:」 on one line and its sentence on the next read as one entry, like the keyed
    # entries written on one line.
    answer = ask("医保卡里的钱能取出来吗")
    cases = next(block for block in answer.blocks if block.kind == "list")
    assert cases.items[0].source.startswith("退休移民:") and not cases.items[0].caption, answer.text


@pytest.mark.parametrize(
    ("question", "said"),
    [
        # A cap is said 「封顶线…」 or 「最高限额…」, not by any sentence with a percentage in it.
        ("新农合普通门诊一年最多能报多少钱?", "封顶线可能为240元"),
        ("新农合的大病保险最多能报多少钱", "最高限额可达一定金额(如25万元)"),
        # 「…是什么意思」 is answered by the sentence that says what it 「是指」.
        ("醫保裡面說的「自負」和「自理」是什麼意思?", "自負是指"),
        # 「…会怎么样」 and 「…有什么后果」 ask what follows.
        ("医保卡的钱要是违规提现了会怎么样", "可能导致账户冻结"),
        ("拿别人的医保卡去买药会有什么后果", "将受到法律制裁"),
        # 「在哪里」 asks for a place or a channel.
        ("家庭共济在哪里绑定?", "医保服务平台"),
        # 「…怎麼查」: how it is looked up, not a sentence that merely mentions the balance.
        ("醫保卡餘額怎麼查", "以下是幾種常見的查詢方法"),
        # 「…怎么回事」: the cause.
        ("打医保热线查余额老是打不进去怎么回事", "由于查询人数较多"),
        # 「能绑定哪些亲属」: what the verb takes, listed.
        ("医保家庭共济能绑定哪些亲属", "绑定配偶、父母、子女"),
        ("深圳在人社局网站上查医保余额,登录要输入什么", "输入身份证号、社保卡号、密码"),
    ],
)
def test_the_opening_has_the_shape_of_the_answer_asked_for(ask, question, said):
    answer = ask(question)
    assert said in answer.blocks[0].text, answer.text


def test_asked_which_relatives_the_answer_names_them(ask):
    # 「哪些亲属」: the kind asked for and its members.
    assert "近亲属包括配偶、父母、子女" in ask("家庭共济可以给哪些亲属用").text


def test_a_question_naming_a_heading_is_answered_by_the_heading_s_body(ask):
    # 「…住院报销比例…」 names the section 「一、住院报销」: its rows (乡(镇)卫生院, 县级, 二级, 三级
    # 医院) answer, the heading shown as a caption and not quoted.
    answer = ask("新农合在县医院住院报销比例是多少")
    opening = answer.blocks[0]
    assert opening.sentence.caption == "住院报销", answer.text
    assert "县级定点医疗机构:500元以下的费用报销25%" in opening.text, answer.text
    assert opening.text.startswith("【住院报销】乡(镇)卫生院"), answer.text
    assert all("住院报销" not in q.source for q in opening.quotes), answer.text
    # Each row stands on its line, as in the source; a sentence runs on after the one before it.
    county = next(q for q in opening.items if q.source.startswith("县级定点医疗机构"))
    assert county.new_line and f"\n{county.text}" in opening.text, answer.text
    rows = [q.source.split(":")[0] for q in opening.items if q.new_line]
    assert rows == ["县级定点医疗机构", "二级医院", "三级医院"], answer.text
    assert opening.to_dict()["items"][0]["new_line"] is False


def test_an_entry_under_a_heading_line_is_quoted_without_the_heading(ask):
    # 「三、电话查询」 on its own line, then 「拨打全国统一医保客服热线 12333…」: the heading is the
    # quote's caption, not the head of its text.
    answer = ask("医保热线12333什么时候打人少")
    opening = answer.blocks[0].sentence
    assert opening.caption == "电话查询" and opening.source.startswith("拨打"), answer.text


def test_a_question_asking_for_the_ways_lists_them_each_with_its_citation(ask):
    # Asked otherwise than eval's 「医保卡余额怎么查」: every way the article's sections give, one line
    # each, each with its citation.
    answer = ask("医保卡余额有哪些查询方法")
    ways = next(block for block in answer.blocks[:2] if block.kind == "list")
    assert len(ways.items) >= 3, answer.text
    assert all(item.caption and f"{item.shown}[{item.citation}]" in ways.text for item in ways.items)
    captions = " ".join(item.caption for item in ways.items)
    assert "电话" in captions and ("网上" in captions or "线上" in captions), answer.text


def test_a_yes_no_question_asking_the_conditions_keeps_both_conditions(ask):
    # 「能不能…需要什么条件」 asks for the yes and the conditions: the passage gives two (back home to
    # work, or not), and both are quoted.
    answer = ask("在外地交的医保能转回户籍地吗,需要什么条件")
    assert answer.blocks[0].sentence.source.startswith("可以"), answer.text
    assert "若参保人员回到原户籍地" in answer.text and "若未返回户籍地" in answer.text, answer.text


@pytest.mark.parametrize("question", ["医保热线12333什么时候打人少", "拨打医保热线查余额,几点打电话人少"])
def test_the_hotline_s_quiet_hours_asked_in_other_words_are_answered(ask, question):
    answer = ask(question)
    assert not answer.abstained, answer.evidence
    assert "9-11点" in answer.text, answer.text


def test_an_english_question_gets_one_english_line_on_what_was_found(ask):
    answer = ask("How much does children's medical insurance cost per year in Xiamen?")
    assert not answer.abstained, answer.evidence
    assert answer.text.splitlines()[0] == answer.note
    assert answer.note.startswith("The sources are in Chinese"), answer.note
    first = answer.citations[0].passage.chunk
    assert f"[1] “{first.title}”, Xiamen" in answer.note, answer.note
    assert answer.to_dict()["note"] == answer.note
    # The quotes stay in Chinese, as written.
    assert "厦门" in answer.blocks[0].text
    assert ask("医保卡余额怎么查").note == ""
