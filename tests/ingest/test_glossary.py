"""English questions reach Chinese documents through the glossary's terms."""

from __future__ import annotations

from ingest.glossary import translate
from ingest.textnorm import query_terms, tokenize


def test_a_phrase_is_read_before_its_words() -> None:
    assert translate("my Personal Account") == [("my", ()), ("personal account", ("个人账户",))]


def test_an_english_question_also_has_the_terms_the_documents_use() -> None:
    terms = query_terms("How do I check my medical insurance balance by phone?")
    assert {"查询", "医保", "余额", "电话"} <= set(terms)


def test_a_chinese_question_keeps_exactly_its_own_terms() -> None:
    assert query_terms("醫保卡餘額怎麼查") == tokenize("醫保卡餘額怎麼查")


def test_a_plural_reads_as_its_singular() -> None:
    assert translate("fees for family members") == [
        ("fee", ("费用",)),
        ("for", ()),
        ("family member", ("家庭成员", "家人")),
    ]
