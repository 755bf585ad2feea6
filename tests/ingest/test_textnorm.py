"""Folding and segmentation: the ground that lexical matching and script conversion stand on."""

from __future__ import annotations

from ingest.textnorm import fold, has_cjk, is_traditional, to_traditional, tokenize


def test_fold_maps_traditional_and_full_width_to_one_form() -> None:
    assert fold("醫保卡餘額") == "医保卡余额"
    assert fold("ＡＰＰ查詢") == "app查询"


def test_tokenize_drops_question_words_and_punctuation() -> None:
    terms = tokenize("醫保卡餘額怎麼查？")
    assert "医保卡" in terms and "余额" in terms
    assert "怎么" not in terms and "？" not in terms


def test_domain_terms_stay_whole() -> None:
    assert "家庭共济" in tokenize("家庭共济怎么绑定") and "12333" in tokenize("拨打12333")


def test_script_detection() -> None:
    assert is_traditional("醫保卡餘額能不能提現")
    assert not is_traditional("医保卡余额能不能提现")
    assert not is_traditional("How do I check my balance?")
    assert to_traditional("医保卡余额") == "醫保卡餘額"
    assert has_cjk("医保 card") and not has_cjk("medical insurance")
