"""Synonym groups (index/synonyms.py): the file format, how a question uses a group, the file
re-read when it changes, and the search that finds the document's word for the asker's."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from index.synonyms import DEFAULT, SynonymError, SynonymFile, Synonyms


def test_the_shipped_list_parses() -> None:
    groups = Synonyms.parse(DEFAULT.read_text(encoding="utf-8")).groups
    assert ("异地", "外地", "外省") in groups


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("异地\n", "第 1 行只有一个词"),
        ("异地 外地\n# note\n外地 外省\n", "第 1 行和第 3 行"),
        ("异地 " + "外" * 30 + "\n", "太长"),
        ("异地 外\x07地\n", "控制字符"),
    ],
)
def test_an_unusable_file_is_refused_with_its_line(text: str, says: str) -> None:
    with pytest.raises(SynonymError, match=says):
        Synonyms.parse(text)


def test_a_question_uses_a_group_by_its_words_not_inside_longer_ones() -> None:
    synonyms = Synonyms.parse("异地 外地\n提取 提出来\n医疗保险 医保\n")
    asked = synonyms.expand("把钱提出来以后,在外地还能用吗")
    assert set(asked.used) == {("提出来", "提取"), ("外地", "异地")}
    assert {"提取", "异地"} <= set(asked.terms)
    # 「医保」 is a word of its own here, but only part of 「医保卡」 there.
    assert synonyms.expand("医保报销").used == (("医保", "医疗保险"),)
    assert synonyms.expand("医保卡余额").used == ()


def test_traditional_words_use_the_same_groups() -> None:
    assert Synonyms.parse("异地 外地\n").expand("在外地能報銷嗎").used == (("外地", "异地"),)


def test_the_file_is_seeded_then_read_again_when_it_changes(tmp_path: Path) -> None:
    file = SynonymFile(tmp_path / "synonyms.txt")
    assert file.current().groups == Synonyms.parse(DEFAULT.read_text(encoding="utf-8")).groups
    assert file.path.read_text(encoding="utf-8") == DEFAULT.read_text(encoding="utf-8")
    file.save("家庭共济 亲情账户\n")
    assert file.current().groups == (("家庭共济", "亲情账户"),)
    # Edited by hand: the next search sees it (a later mtime, as an editor gives).
    file.path.write_text("异地 外地\n", encoding="utf-8")
    os.utime(file.path, ns=(os.stat(file.path).st_atime_ns, os.stat(file.path).st_mtime_ns + 10**9))
    assert file.current().groups == (("异地", "外地"),)


def test_a_broken_edit_keeps_the_groups_and_a_refused_save_keeps_the_file(tmp_path: Path) -> None:
    file = SynonymFile(tmp_path / "synonyms.txt")
    file.save("异地 外地\n")
    with pytest.raises(SynonymError):
        file.save("异地\n")
    assert file.path.read_text(encoding="utf-8") == "异地 外地\n"
    file.path.write_text("只有一个词\n", encoding="utf-8")
    os.utime(file.path, ns=(os.stat(file.path).st_atime_ns, os.stat(file.path).st_mtime_ns + 10**9))
    assert file.current().groups == (("异地", "外地"),)


def test_a_synonym_finds_the_passage_that_uses_the_other_word(retriever, tmp_path: Path) -> None:
    from index.retriever import Retriever

    question = "我在外地交的医保,能查到那边账户的余额吗"
    with_groups = retriever.search(question, 5)
    assert ("外地", "异地") in with_groups.synonyms
    top = with_groups.passages[0]
    assert "外地" not in top.chunk.text and "异地" in top.chunk.text
    assert "同义词 外地→异地" in top.why()
    empty = tmp_path / "none.txt"
    empty.write_text("# no groups\n", encoding="utf-8")
    plain = Retriever(retriever.index, retriever.embedder, replace(retriever.settings, synonyms=str(empty)))
    without = plain.search(question, 5)
    assert without.synonyms == () and all(not p.synonyms for p in without.passages)
