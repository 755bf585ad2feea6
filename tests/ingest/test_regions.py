"""Region names: cities beat provinces, traditional spellings map to simplified names."""

from __future__ import annotations

import pytest

from ingest.regions import CITIES, PROVINCES, find_region
from ingest.textnorm import to_simplified


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("广东深圳职工医保与居民医保报销待遇有何不同?", "深圳"),
        ("2025年黑龙江牡丹江做植皮手术能走医保吗?", "牡丹江"),
        ("湘潭怎么看自己医保卡里面的余额?", "湘潭"),
        ("石家庄医保卡余额怎么查询?", "石家庄"),
        ("厦门市退休后补缴医保可以网上交吗", "厦门"),
        ("比如在重慶的參保人", "重庆"),
        ("廣東省醫保", "广东"),
        ("北京地區可使用北京通進行查詢", "北京"),
        ("医保个人账户余额怎么查看", None),
    ],
)
def test_find_region(text: str, region: str | None) -> None:
    assert find_region(text) == region


def test_tables_are_consistent() -> None:
    names = set(PROVINCES) | set(CITIES)
    assert len(CITIES) == len(set(CITIES)) > 300
    assert len(PROVINCES) >= 30
    # Every name is simplified: traditional spellings are OpenCC's job, not the table's.
    assert all(to_simplified(name) == name for name in names)
