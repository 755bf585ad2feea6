"""Document structure: title, sections (stand-alone sub-articles, forum floors) and heading paths.

The output is a flat list of :class:`Block` — the body lines under one heading path, with the
headings that introduce them — which the chunker packs without ever crossing a block.

Heading ranks (smaller = higher) decide nesting: a question-like sub-topic line, then 「一、」, then a
short plain label line, then 「1.」/「1、」, then 「(1)」. A heading that directly follows another heading
(no body between) is its child, except between numbered headings of the same or higher rank, which
are a list of siblings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.clean import Line, LineKind, scan_lines
from ingest.patterns import CJK, LIST_MARKER_STYLES
from ingest.regions import find_region
from ingest.sentences import is_lead_in

QUESTION, CN_NUMBERED, PLAIN, NUMBERED, PAREN_NUMBERED = 10, 20, 25, 30, 40
_NUMBERED_RANKS = frozenset({CN_NUMBERED, NUMBERED, PAREN_NUMBERED})

HEADING_MAX_CHARS = 30
TITLE_MAX_CHARS = 80
# Numbered heading styles: the list markers (ingest.patterns) a heading line may open with.
_MARKER_OF = dict(LIST_MARKER_STYLES)
_NUMBERED_STYLES: tuple[tuple[int, re.Pattern[str]], ...] = (
    (CN_NUMBERED, re.compile(f"^(?:{_MARKER_OF['cn']})")),
    (NUMBERED, re.compile(f"^(?:{_MARKER_OF['num']})")),
    (PAREN_NUMBERED, re.compile(f"^(?:{_MARKER_OF['paren']}|{_MARKER_OF['circled']})")),
)
_MARKDOWN = re.compile(r"^(#{1,6})\s+\S")
_MARKDOWN_MARKER = re.compile(r"^#{1,6}\s+")
# A heading never contains a sentence end (a 「1、…;」 list item is body), except ?/！ at its very end.
_SENTENCE_PUNCT = re.compile(r"[。；;]|[!！](?!$)|\.\.\.|…")
_QUESTION = re.compile(r"[?？]$|怎么|怎麼|怎样|怎樣|如何|为什么|為什麼|[吗嗎]")
_EXCLAMATION = re.compile(r"[!！]$")
# 「(备注:数据仅供参考…)」 is an aside in body text, not a label.
_PARENTHESIZED = re.compile(r"^[(（].*[)）]$")
_FLOOR = re.compile(r"^(\d{1,4}[樓楼])[:：]")
_FLOOR_LABEL = re.compile(r"\d{1,4}[樓楼]")
# 「(08/19)(2)」, 「(4月3日)」: a scraper's date/page decorations at the end of a title.
_TITLE_DECORATION = re.compile(r"(?:\s*[(（][\d\s/.\-年月日号號]*[)）])+$")


@dataclass
class Block:
    """Body lines under one heading path; ``lines[:headings]`` are the headings that introduce them."""

    title: str
    path: tuple[str, ...]
    lines: list[Line]
    headings: int
    date: str | None = None
    source: str | None = None
    region: str | None = None


@dataclass
class DocStructure:
    title: str
    date: str | None
    source: str | None
    blocks: list[Block]


def heading_rank(line: str) -> int | None:
    """The rank of ``line`` as a heading, or None when it is body text."""
    if markdown := _MARKDOWN.match(line):
        return QUESTION * len(markdown.group(1))
    if len(line) > HEADING_MAX_CHARS or _SENTENCE_PUNCT.search(line) or len(CJK.findall(line)) < 2:
        return None
    for rank, pattern in _NUMBERED_STYLES:
        if pattern.match(line):
            return rank
    if is_lead_in(line, (0, len(line))) or _PARENTHESIZED.match(line):
        return None
    if _EXCLAMATION.search(line):
        # A short exclamation is a headline (「石家庄医保卡里的钱也能给家里人用了!」),
        # not a reply (「可以!」).
        return QUESTION if len(CJK.findall(line)) >= 8 else None
    return QUESTION if _QUESTION.search(line) else PLAIN


def post_of(path: tuple[str, ...]) -> tuple[str, ...]:
    """What a list or a lead-in's text cannot run out of: the article (the path's first label) and,
    in a forum thread, the floor (「6樓」) whose post it is."""
    return (*path[:1], *(label for label in path[1:] if _FLOOR_LABEL.fullmatch(label)))


def is_floor(line: str) -> bool:
    """Whether a line opens a forum floor (「4樓:張慕明」): it says who wrote, not about what."""
    return _FLOOR.match(line.strip()) is not None


def reads_as_sentence(label: str) -> bool:
    """Whether a section label is a sentence (a page's first line standing as its title), not a heading."""
    return _SENTENCE_PUNCT.search(label) is not None


def heading_label(line: str) -> str:
    """How a heading line appears in a section path: as written, minus Markdown's #s."""
    return _MARKDOWN_MARKER.sub("", line)


def display_title(line: str) -> str:
    """A title as written, minus Markdown's #s and trailing scraper decorations such as 「(08/19)(2)」.

    A first line that is a whole page (a file without line breaks) is cut short: the title goes into
    every chunk's section path, which is embedded, tokenised and shown with each passage."""
    label = heading_label(line)
    title = _TITLE_DECORATION.sub("", label).strip() or label
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + "…"


def parse_structure(text: str) -> DocStructure:
    """Title, date, source and the heading blocks of one document's text."""
    builder = _Builder(text)
    for line in scan_lines(text):
        builder.feed(line)
    return builder.finish()


@dataclass
class _Section:
    title: str
    root: tuple[str, ...]
    date: str | None = None
    source: str | None = None
    blocks: list[Block] = field(default_factory=list)


class _Builder:
    """Walks the classified lines once, keeping a heading stack per section."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.doc_title: str | None = None  # set by the first text line, before anything else runs
        self.doc_date: str | None = None
        self.doc_source: str | None = None
        self.sections: list[_Section] = []
        self.section: _Section | None = None
        self.stack: list[tuple[int, str]] = []
        # Heading lines seen since the last body line, with their stack texts (None for a root title).
        self.pending: list[tuple[Line, str | None]] = []
        self.block: Block | None = None
        # Rank of the heading the previous text line was, None after body or a section start.
        self.run_rank: int | None = None
        self.expect_article_title = False

    def feed(self, line: Line) -> None:
        if line.kind is LineKind.META:
            self.doc_date = self.doc_date or line.date
            self.doc_source = self.doc_source or line.source
        elif line.kind is LineKind.TRAILER:
            # The trailer dates and sources the stand-alone article it closes; the next line titles another.
            if self.section is not None:
                self.section.date, self.section.source = line.date, line.source
            self._close_section()
            self.expect_article_title = True
        elif line.kind is LineKind.RELATED:
            self._close_section()
            self.expect_article_title = True
        elif line.is_body:
            self._feed_text(line)

    def _feed_text(self, line: Line) -> None:
        text = self.text[line.start : line.end]
        if self.doc_title is None or self.expect_article_title:
            title = display_title(text)
            self.doc_title = self.doc_title or title
            self.expect_article_title = False
            self._open_section(_Section(title, (title,)), [(line, None)])
        elif floor := _FLOOR.match(text):
            # Headings right before a floor are the related question that floor answers.
            carried = [(ln, None) for ln, _ in self.pending]
            related = tuple(label for _, label in self.pending if label is not None)
            self._close_section()
            title = self.doc_title
            self._open_section(_Section(title, (title, *related, floor.group(1))), [*carried, (line, None)])
        elif (rank := heading_rank(text)) is not None:
            label = heading_label(text)
            self._push_heading(rank, label)
            self.pending.append((line, label))
        else:
            self._add_body(line)

    def _push_heading(self, rank: int, label: str) -> None:
        follows_heading = self.run_rank is not None
        siblings = self.run_rank in _NUMBERED_RANKS and rank in _NUMBERED_RANKS and rank <= self.run_rank
        if not follows_heading or siblings:
            while self.stack and self.stack[-1][0] >= rank:
                self.stack.pop()
        self.stack.append((rank, label))
        self.run_rank = rank

    def _add_body(self, line: Line) -> None:
        assert self.section is not None  # the first text line always opens a section
        path = self.section.root + tuple(label for _, label in self.stack)
        if self.pending or self.block is None or self.block.path != path:
            self.block = Block(
                title=self.section.title,
                path=path,
                lines=[ln for ln, _ in self.pending],
                headings=len(self.pending),
            )
            self.section.blocks.append(self.block)
        self.block.lines.append(line)
        self.pending = []
        self.run_rank = None

    def _open_section(self, section: _Section, pending: list[tuple[Line, str | None]]) -> None:
        self.section = section
        self.sections.append(section)
        self.stack = []
        self.pending = pending
        self.block = None
        self.run_rank = None

    def _close_section(self) -> None:
        # Headings still waiting for body at a boundary introduce nothing, so they are dropped.
        self.section = None
        self.stack = []
        self.pending = []
        self.block = None
        self.run_rank = None

    def finish(self) -> DocStructure:
        title = self.doc_title or ""
        if self.section is not None and self.pending and not any(s.blocks for s in self.sections):
            # A document that is nothing but its title line(s) (a one-line note, a short Q&A
            # passage) has no headings: those lines are its content, and dropping them loses it.
            lines = [ln for ln, _ in self.pending]
            self.section.blocks.append(Block(self.section.title, self.section.root, lines, 0))
        blocks = []
        for section in self.sections:
            for block in section.blocks:
                block.date = section.date or self.doc_date
                block.source = section.source or self.doc_source
                block.region = _region(block.path, title)
                blocks.append(block)
        return DocStructure(title=title, date=self.doc_date, source=self.doc_source, blocks=blocks)


def _region(path: tuple[str, ...], doc_title: str) -> str | None:
    """The deepest heading that names a place wins; the document title is the fallback."""
    for label in (*reversed(path), doc_title):
        if region := find_region(label):
            return region
    return None
