"""The character classes and patterns that ingest, the answer composer and eval all read text by:
Chinese characters, list markers, sentence ends and lead-ins. Defined here once, so that what
ingest cuts at is what an answer and a check look for."""

from __future__ import annotations

import re

# CJK Unified Ideographs with Extension A: what counts as a Chinese character.
CJK_RANGE = "\u3400-\u9fff"
CJK = re.compile(f"[{CJK_RANGE}]")

# List markers: style name → pattern. The style decides which markers are siblings of one list.
# A period after a digit is a marker only when no digit follows (「1.5万」 is a number).
LIST_MARKER_STYLES: tuple[tuple[str, str], ...] = (
    ("cn", r"[一二三四五六七八九十]{1,3}[、.．]"),
    ("num", r"\d{1,2}(?:[、，,]|[.．](?!\d))"),
    ("paren", r"[(（]\d{1,2}[)）]"),
    ("circled", r"[①-⑳]"),
    ("bullet", r"[•●▪◦·]"),
    ("ordinal", r"第[一二三四五六七八九十]{1,2}[，,、:：]"),
)
# Any marker, each style a named group.
LIST_MARKER = "|".join(f"(?P<{name}>{pattern})" for name, pattern in LIST_MARKER_STYLES)

# Marks that end a sentence, marks that end a clause of one (a list written as one sentence), and
# the closing quotes and brackets that belong to the sentence before them. The half-width "." is
# no sentence end: in these documents it is a decimal point or a list marker.
SENTENCE_STOPS = "。！？!?"
CLAUSE_STOPS = "；;"
CLOSERS = "”’」』》）)\\]\"'"
# A unit that ends a sentence (a quote ending otherwise was cut at 「；」 or a long sentence's comma).
ENDS_SENTENCE = re.compile(f"[{SENTENCE_STOPS}…][{CLOSERS}]*\\s*$")

# A sentence that announces what follows (「…如下:」, 「步骤:」) ends on a colon.
LEAD_IN_END = re.compile(r"[:：]\s*$")
