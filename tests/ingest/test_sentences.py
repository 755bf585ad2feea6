"""Sentence spans: where sentences end, and how an over-long one is cut."""

from __future__ import annotations

from ingest.sentences import is_lead_in, split_long_sentence, split_sentences


def _texts(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def test_splits_on_full_and_half_width_ends_and_line_ends() -> None:
    text = "第一句。第二句!第三句?第四句;第五句；第六句！\n第七句没有标点\n  第八句？"
    assert _texts(text) == [
        "第一句。",
        "第二句!",
        "第三句?",
        "第四句;",
        "第五句；",
        "第六句！",
        "第七句没有标点",
        "第八句？",
    ]


def test_decimal_points_and_list_markers_do_not_end_sentences() -> None:
    text = "报销额度为1.5万元,按1.2倍计算。1. 官方网站查询\n2.支付宝查询"
    assert _texts(text) == ["报销额度为1.5万元,按1.2倍计算。", "1. 官方网站查询", "2.支付宝查询"]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert _texts("他说:“可以提取。”然后走了。") == ["他说:“可以提取。”", "然后走了。"]


def test_spans_are_stripped_and_respect_bounds() -> None:
    text = "  前言。  \n\n   正文第一句。正文第二句。  "
    start = text.index("正文")
    spans = split_sentences(text, start, len(text))
    assert [text[s:e] for s, e in spans] == ["正文第一句。", "正文第二句。"]
    assert all(not text[s].isspace() and not text[e - 1].isspace() for s, e in spans)


def test_lead_in_sentences_end_with_a_colon() -> None:
    text = "优点:操作简单。步骤："
    spans = split_sentences(text)
    assert [is_lead_in(text, span) for span in spans] == [False, True]


def test_long_sentence_is_cut_at_commas_first() -> None:
    text = "甲" * 30 + "，" + "乙" * 30 + "，" + "丙" * 30 + "。"
    pieces = split_long_sentence(text, (0, len(text)), 70)
    assert [text[s:e] for s, e in pieces] == ["甲" * 30 + "，" + "乙" * 30 + "，", "丙" * 30 + "。"]


def test_long_sentence_without_pauses_is_hard_cut_without_losing_text() -> None:
    text = "字" * 250
    pieces = split_long_sentence(text, (0, len(text)), 100)
    assert [e - s for s, e in pieces] == [100, 100, 50]
    assert "".join(text[s:e] for s, e in pieces) == text


def test_long_sentence_may_be_cut_at_spaces() -> None:
    text = " ".join(["词语" * 10] * 6)  # 6 words of 20 chars, no punctuation
    pieces = split_long_sentence(text, (0, len(text)), 50)
    assert all(e - s <= 50 for s, e in pieces)
    assert all(len(text[s:e].replace(" ", "")) % 20 == 0 for s, e in pieces)  # cut between words
    assert "".join(text[s:e] for s, e in pieces).replace(" ", "") == text.replace(" ", "")


def test_a_mark_inside_a_book_title_or_brackets_does_not_end_the_sentence() -> None:
    # An album title: its 「！」 is part of the name, and the sentence goes on after 「》」; so does
    # one after a bracket whose 「；」 is all that is left of a foreign name.
    text = (
        "《卡拉OK.LIVE！‧台北‧我》是张雨生发行的第六张国语专辑。怡良（；），字悦亭。\n《没有闭合！\n第三行。"
    )
    assert _texts(text) == [
        "《卡拉OK.LIVE！‧台北‧我》是张雨生发行的第六张国语专辑。",
        "怡良（；），字悦亭。",
        "《没有闭合！",
        "第三行。",
    ]


def test_long_sentence_is_not_cut_at_the_comma_of_a_number() -> None:
    text = "分布于中国大陆的多个省份,生长于海拔100米至2,800米的地区,见于灌丛处、坡地及路旁等地。"
    pieces = [text[a:b] for a, b in split_long_sentence(text, (0, len(text)), 30)]
    assert "".join(pieces) == text
    assert not any(piece.endswith("2,") for piece in pieces), pieces


def test_a_quote_that_ends_inside_a_sentence_does_not_end_it() -> None:
    text = "《明史》称其“恬澹和易，与物无忤。”，崇祯八年卒。文章往往殊邈于世，其结习使然也。”。下一句！"
    assert _texts(text) == [
        "《明史》称其“恬澹和易，与物无忤。”，崇祯八年卒。",
        "文章往往殊邈于世，其结习使然也。”。",
        "下一句！",
    ]
