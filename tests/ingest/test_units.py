"""Answer units on the real corpus: roles, list items linked to their lead-ins, exact offsets."""

from __future__ import annotations

import pytest

from ingest.pipeline import chunk_document, read_corpus
from ingest.records import Document
from ingest.units import HEADING, ITEM, LEAD_IN
from settings import ROOT, Settings


@pytest.fixture(scope="module")
def units_by_doc():
    documents, _ = read_corpus(ROOT / "corpus")
    return {d.doc_id: (d.text, chunk_document(d, Settings())[2]) for d in documents}


def find(units, text, prefix):
    return next(i for i, u in enumerate(units) if text[u.start : u.end].startswith(prefix))


def test_every_unit_is_an_exact_span_and_never_starts_with_a_list_marker(units_by_doc):
    for text, units in units_by_doc.values():
        for u in units:
            assert text[u.start : u.end] == u.text
            assert u.text == u.text.strip()
            assert not u.text.startswith(("1、", "2、", "一、", "二、", "(1)", "•", "①"))


def test_a_lead_in_at_the_end_of_a_block_owns_the_numbered_cases_after_it(units_by_doc):
    text, units = units_by_doc["001_5f10bce1473421be.txt"]
    lead = find(units, text, "具体法规如下")
    assert units[lead].role == LEAD_IN
    items = [u for u in units if u.lead == lead]
    assert [u.role for u in items] == [ITEM] * len(items)
    assert items[0].text.startswith("退休移民:")
    assert "出境定居" in items[0].text  # the label keeps the sentence it labels
    assert len(items) >= 5


def test_a_flattened_mini_article_is_split_into_its_parts(units_by_doc):
    text, units = units_by_doc["000_aee2752afa523ed4.txt"]
    lead = find(units, text, "可以 在外省缴纳的医保可以转回老家")
    assert units[lead].role == LEAD_IN
    heading = find(units, text, "转移条件")
    assert units[heading].lead == lead
    label = find(units, text, "参保人员返回户籍所在地就业")
    assert units[label].role == HEADING
    body = find(units, text, "若参保人员回到原户籍地")
    assert units[body].text.endswith("手续。")


def test_a_bare_yes_opens_the_sentence_it_answers(units_by_doc):
    text, units = units_by_doc["000_aee2752afa523ed4.txt"]
    yes = find(units, text, "可以!")
    assert "厦门医保已实现全国" in units[yes].text


def test_a_sentence_whose_figure_was_lost_in_scraping_is_not_cut_into_a_label(units_by_doc):
    # 「退休人員按照本人養老金的 5%計入。」: the gap is where a figure was, and a label never ends on 的.
    text, units = units_by_doc["004_2b5ac2e5e3100877.txt"]
    row = find(units, text, "退休人員按照本人養老金的")
    assert units[row].text == "退休人員按照本人養老金的 5%計入。"
    assert units[row].role == ITEM
    assert units[units[row].lead].text.startswith("個人賬戶(醫保卡)資金劃入比例是")


def test_a_lead_in_that_ends_its_article_with_nothing_under_it_is_not_quotable(units_by_doc):
    # Its list was lost in scraping; the next line is the next article's title.
    text, units = units_by_doc["000_aee2752afa523ed4.txt"]
    row = find(units, text, "医保卡内资金在以下特定情形下可申请提取")
    assert units[row].role == HEADING
    assert text[units[row + 1].start : units[row + 1].end].startswith("2025年黑龙江牡丹江")


def test_a_lead_in_announcing_sections_knows_where_each_starts(units_by_doc):
    text, units = units_by_doc["003_806fa7c8e5ae7b8f.txt"]
    row = find(units, text, "以下是几种常见的查询方法")
    starts = [units[j].text for j in units[row].sections]
    assert starts == ["电话查询", "线上查询方法", "线下查询方法"]


def test_a_marker_left_at_the_end_of_a_line_marks_the_item_on_the_next(units_by_doc):
    # 「2. 第二步…選擇社保查詢。3.」 then, on the next line, 「第三步進去社保查詢介面…」.
    text, units = units_by_doc["004_2b5ac2e5e3100877.txt"]
    lead = find(units, text, "法律分析:")
    steps = [u.text[:3] for u in units if u.lead == lead]
    assert steps == ["第一步", "第二步", "第三步", "第四步"]


def test_a_list_does_not_run_into_the_next_post_of_a_forum_thread(units_by_doc):
    # 5樓's 「醫療保險的報銷流程是:」 has three steps; 6樓's 「1、在各醫保中心…」 starts a list of its own.
    text, units = units_by_doc["004_2b5ac2e5e3100877.txt"]
    lead = find(units, text, "醫療保險的報銷流程是")
    steps = [u.text for u in units if u.lead == lead]
    assert len(steps) == 3 and steps[-1].startswith("屬於醫保報銷範圍的")


def test_a_title_with_a_space_is_not_cut_into_a_label():
    # 「大久保笃的漫画作品《SOUL EATER》里的登场人物介绍。」: the run before the space opens 《 and
    # does not close it, so it is cut from a title, not a label.
    text = "大久保笃的漫画作品《SOUL EATER》里的登场人物介绍。\n\n转移条件 参保人员返回户籍所在地就业。"
    _, _, units = chunk_document(Document("page.txt", text, "0" * 64), Settings())
    texts = [u.text for u in units]
    assert "大久保笃的漫画作品《SOUL" not in texts
    assert any(t.startswith("大久保笃的漫画作品《SOUL EATER》") for t in texts)
    assert "转移条件" in texts  # a real label before its text is still one


def test_steps_under_a_lead_in_line_are_its_items(units_by_doc):
    text, units = units_by_doc["001_5f10bce1473421be.txt"]
    lead = find(units, text, "支付宝查询步骤")
    steps = [u.text for u in units if u.lead == lead]
    assert steps[0].startswith("打开支付宝APP") and len(steps) == 4


def test_a_page_without_headings_gives_its_units_the_subject_of_its_first_sentence(units_by_doc):
    # A file that is one paragraph is titled by its first sentence, cut at 80 characters; a unit
    # read alone needs only what that sentence is about, not all of it.
    text, _ = units_by_doc["003_806fa7c8e5ae7b8f.txt"]
    page = "湘潭农村合作医疗保险，简称新农合，" + "".join(text.split())
    _, _, units = chunk_document(Document("page.txt", page, "0" * 64), Settings())
    assert {u.context for u in units} == {"湘潭农村合作医疗保险"}


def test_a_heading_is_a_units_context_as_written(units_by_doc):
    text, units = units_by_doc["001_5f10bce1473421be.txt"]
    row = find(units, text, "退休移民:")
    assert units[row].context.startswith("1、退休移民")
