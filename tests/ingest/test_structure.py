"""Titles, headings, sub-articles, forum floors and the metadata attached to each block."""

from __future__ import annotations

import pytest

from ingest.pipeline import read_corpus
from ingest.records import SECTION_SEP
from ingest.structure import (
    CN_NUMBERED,
    NUMBERED,
    PAREN_NUMBERED,
    PLAIN,
    QUESTION,
    DocStructure,
    display_title,
    heading_rank,
    parse_structure,
)
from settings import Settings


@pytest.fixture(scope="module")
def structures() -> dict[str, DocStructure]:
    documents, _ = read_corpus(Settings.from_env().corpus_dir)
    return {doc.doc_id[:3]: parse_structure(doc.text) for doc in documents}


@pytest.mark.parametrize(
    ("line", "rank"),
    [
        ("一、线上查询", CN_NUMBERED),
        ("1. 官方网站查询", NUMBERED),
        ("2.支付宝、微信查询", NUMBERED),
        ("3、普通门诊报销", NUMBERED),
        ("1、退休移民:", NUMBERED),
        ("(1)门诊报销", PAREN_NUMBERED),
        ("（2）住院报销", PAREN_NUMBERED),
        ("广东深圳医保卡余额可以取出来吗?", QUESTION),
        ("怎麼查個人醫保賬戶明細", QUESTION),
        ("石家庄医保卡里的钱也能给家里人用了!", QUESTION),
        ("电话查询", PLAIN),
        ("不可提取的情况", PLAIN),
        ("## 报销流程", 20),
        # Body, not headings:
        ("优点:", None),
        ("社保中心大厅查询:", None),
        ("可以!", None),
        ("3、撥打12333查詢。", None),
        ("2、撥打社保**12333查詢;", None),
        ("(备注:数据仅供参考,具体以当地有关法规为准)", None),
        ("拨打全国统一的医保客服热线12333(部分地区可能有不同的本地服务热线)。", None),
        ("1.5万元以下的部分", PLAIN),  # a decimal, not a list number
    ],
)
def test_heading_rank(line: str, rank: int | None) -> None:
    assert heading_rank(line) == rank


def test_display_title_strips_scraper_decorations() -> None:
    assert (
        display_title("广东深圳职工医保与居民医保报销待遇有何不同?(08/19)(2)")
        == "广东深圳职工医保与居民医保报销待遇有何不同?"
    )
    assert display_title("手机怎样查询医保卡余额?(4月3日)") == "手机怎样查询医保卡余额?"
    assert display_title("# 医保须知") == "医保须知"
    assert (
        display_title("退休人员每月医保账户到账多少钱?(以惠州为例)")
        == "退休人员每月医保账户到账多少钱?(以惠州为例)"
    )


def test_document_dates_and_sources(structures: dict[str, DocStructure]) -> None:
    assert structures["001"].date == "2025-08-19"
    assert structures["002"].date == "2025-04-03" and structures["002"].source == "社保网"
    assert structures["003"].date == "2025-05-05"
    assert structures["004"].date == "2025-01-12"
    assert structures["000"].title == "医保个人账户余额怎么查看"


def test_000_related_articles_are_their_own_sections(structures: dict[str, DocStructure]) -> None:
    subs = [block for block in structures["000"].blocks if block.date == "2025-04-19"]
    titles = [block.title for block in subs]
    assert len(titles) == len(set(titles)) == 20
    assert "厦门医保补缴怎么计算" in titles
    for block in subs:
        assert block.path == (block.title,)
        assert block.source == "健康新闻"
        assert len(block.lines) == 2 and block.headings == 1  # title line + summary; the trailer is dropped
    main = [block for block in structures["000"].blocks if block.date is None]
    assert all(block.path[0] == "医保个人账户余额怎么查看" for block in main)


def test_000_heading_paths(structures: dict[str, DocStructure]) -> None:
    paths = {SECTION_SEP.join(block.path) for block in structures["000"].blocks}
    assert "医保个人账户余额怎么查看 › 一、线上查询 › 2. 手机APP查询" in paths
    assert "医保个人账户余额怎么查看 › 二、线下查询 › 3. 银行网点" in paths
    assert "医保个人账户余额怎么查看 › 四、其他注意事项" in paths


def test_headings_that_follow_headings_nest(structures: dict[str, DocStructure]) -> None:
    paths = {SECTION_SEP.join(block.path[1:]) for block in structures["001"].blocks}
    assert "广东深圳医保卡余额查询的几种方法? › 电话查询 › 拨打医保服务热线" in paths
    assert "广东深圳医保卡余额可以取出来吗? › 不可提取的情况" in paths


def test_004_floors_are_sections_with_their_related_question(structures: dict[str, DocStructure]) -> None:
    floors = {}
    for block in structures["004"].blocks:
        floor = next(label for label in block.path if label.endswith("樓"))
        floors.setdefault(floor, block.path)
    assert list(floors) == [f"{n}樓" for n in range(1, 11)]
    assert floors["1樓"] == ("如何查個人醫保賬,怎麼查個人醫保賬戶明細", "1樓")
    assert floors["4樓"] == ("如何查個人醫保賬,怎麼查個人醫保賬戶明細", "怎麼查個人醫保賬戶明細", "4樓")
    assert all(block.date == "2025-01-12" for block in structures["004"].blocks)


def test_regions_come_from_headings_then_title(structures: dict[str, DocStructure]) -> None:
    def regions(key: str) -> set[str | None]:
        return {block.region for block in structures[key].blocks}

    assert regions("001") == {"深圳"}
    assert "湘潭" in regions("002") and None in regions("002")  # the intro is under a title naming no city
    assert regions("003") == {"石家庄"}
    assert {"厦门", "牡丹江"} <= regions("000")
    assert regions("004") == {None}  # 重慶/北京 appear only in body text


def test_meta_and_boilerplate_lines_belong_to_no_block() -> None:
    text = "标题\n\n2025-01-02 10:00\n举报\n\n小节一\n\n正文一。\n\n相关推荐\n诚聘英才\n"
    structure = parse_structure(text)
    assert structure.title == "标题" and structure.date == "2025-01-02"
    [block] = structure.blocks
    assert block.path == ("标题", "小节一")
    assert [text[line.start : line.end] for line in block.lines] == ["标题", "小节一", "正文一。"]
