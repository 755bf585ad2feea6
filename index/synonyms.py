"""Words people use for the same thing (外地/异地, 提出来/提取): groups an administrator edits.

The groups live in a plain text file in the data dir (``synonyms.txt``; ``YIBAO_SYNONYMS`` names
another), seeded from the list shipped with the program (``index/synonyms.txt``) the first time it
is read. One group a line, words separated by spaces; the first word is the one the documents use.
A question that uses any word of a group is searched with the other words too: BM25 looks for
their terms as well. (The model reads the question as asked: putting the documents' word in its
place lost passages on eval/questions.jsonl and baoxianzhidao, README "How a passage is scored".)
The file is read again whenever it changes, so an edit (in /admin or by hand) applies to the next
search.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import jieba

from ingest.textnorm import fold, tokenize

log = logging.getLogger(__name__)

DEFAULT = Path(__file__).resolve().with_name("synonyms.txt")
FILE = "synonyms.txt"
# An editor's limits: the file is read on every change and matched against every question.
MAX_BYTES = 16 * 1024
MAX_GROUPS = 2000
MAX_WORD_CHARS = 20
_SEPARATORS = re.compile(r"[\s,，、;；/]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class SynonymError(ValueError):
    """A synonym file that cannot be used, with the line at fault (Chinese and English)."""


@dataclass(frozen=True)
class Expansion:
    """What a question is searched with besides its own words."""

    terms: tuple[str, ...] = ()  # BM25 terms of the groups' other words
    used: tuple[tuple[str, str], ...] = ()  # (word asked, word also searched), for "why it matched"


@dataclass(frozen=True)
class Synonyms:
    groups: tuple[tuple[str, ...], ...]  # folded (simplified, half-width, lower case)

    @classmethod
    def parse(cls, text: str) -> Synonyms:
        """The groups of a synonym file; SynonymError names the first line that is wrong."""
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise SynonymError(
                f"同义词文件太大（最多 {MAX_BYTES // 1024} KB）/ the file is over {MAX_BYTES} bytes"
            )
        groups: list[tuple[str, ...]] = []
        seen: dict[str, int] = {}
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if _CONTROL.search(line):
                raise SynonymError(f"第 {n} 行有控制字符 / line {n} has control characters")
            words = tuple(dict.fromkeys(fold(w) for w in _SEPARATORS.split(line) if w))
            if len(words) < 2:
                raise SynonymError(f"第 {n} 行只有一个词 / line {n} names one word, a group needs two")
            for word in words:
                if len(word) > MAX_WORD_CHARS:
                    raise SynonymError(
                        f"第 {n} 行的「{word}」太长（最多 {MAX_WORD_CHARS} 字）/ "
                        f"line {n}: {word!r} is longer than {MAX_WORD_CHARS} characters"
                    )
                if word in seen:
                    raise SynonymError(
                        f"「{word}」在第 {seen[word]} 行和第 {n} 行都出现了 / "
                        f"{word!r} is on lines {seen[word]} and {n}: a word belongs to one group"
                    )
                seen[word] = n
            groups.append(words)
            if len(groups) > MAX_GROUPS:
                raise SynonymError(f"最多 {MAX_GROUPS} 组 / at most {MAX_GROUPS} groups")
        return cls(tuple(groups))

    def expand(self, question: str) -> Expansion:
        """The groups the question uses a word of, and the terms of their other words.

        A word is used when its words (jieba's, as the question is cut) stand in the question one
        after the other: 「提出来」 in 「钱提出来以后」, but not 「医保」 inside 「医保卡」."""
        words = jieba.lcut(fold(question))
        terms: list[str] = []
        used: list[tuple[str, str]] = []
        for group in self.groups:
            # The longest word first: 「取出来」 is asked, not 「取出」 within it.
            asked = next(
                (w for w in sorted(group, key=len, reverse=True) if _stands_in(words, _cut(w))), None
            )
            if asked is not None:
                for other in group:
                    if other != asked:
                        terms.extend(tokenize(other))
                        used.append((asked, other))
        return Expansion(tuple(dict.fromkeys(terms)), tuple(used))


@functools.lru_cache(maxsize=4096)
def _cut(word: str) -> tuple[str, ...]:
    return tuple(jieba.lcut(word))


def _stands_in(words: list[str], part: tuple[str, ...]) -> bool:
    n = len(part)
    return any(tuple(words[i : i + n]) == part for i in range(len(words) - n + 1))


class SynonymFile:
    """The data dir's synonym file, re-read when its size or modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._synonyms = Synonyms(())

    def current(self) -> Synonyms:
        """The groups as the file holds them now (the shipped list until the file exists). A file
        that became unusable keeps the groups read last, with a warning in the log."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seed()
            return self._read_default()
        except OSError:
            return self._synonyms
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._synonyms = Synonyms.parse(self.path.read_text(encoding="utf-8"))
                    except (OSError, UnicodeDecodeError, SynonymError) as exc:
                        log.warning(
                            "synonym file %s not used, keeping the groups read before: %s", self.path, exc
                        )
                    self._stamp = stamp
        return self._synonyms

    def text(self) -> str:
        """The file as an administrator edits it (the shipped list until it exists)."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._seed()
            return DEFAULT.read_text(encoding="utf-8")

    def save(self, text: str) -> Synonyms:
        """Check ``text`` (SynonymError if it is unusable: the file is then left as it was) and
        replace the file with it atomically; the next search uses it."""
        synonyms = Synonyms.parse(text)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        with self._lock:
            stat = self.path.stat()
            self._synonyms, self._stamp = synonyms, (stat.st_mtime_ns, stat.st_size)
        return synonyms

    def _seed(self) -> None:
        # Written once so that there is a file to edit; a read-only data dir just uses the list.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "x", encoding="utf-8") as fh:
                fh.write(DEFAULT.read_text(encoding="utf-8"))
        except OSError:
            pass

    def _read_default(self) -> Synonyms:
        if self._stamp != (0, 0):
            self._synonyms = Synonyms.parse(DEFAULT.read_text(encoding="utf-8"))
            self._stamp = (0, 0)
        return self._synonyms
