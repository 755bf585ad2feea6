"""Which uploaded files may enter the corpus dir, and under which name.

A name is taken as it is (NFC) or refused, never silently rewritten: a person should find the
file under the name they gave it (「指南（2024）.txt」 keeps its full-width brackets). It is judged
by its NFKC form, which is what it looks like: ``．．／`` is the ``../`` it resembles. Names carry
no path (no separators, no ``..``), are not hidden, have no control characters and a supported
extension, so an upload can only land directly in the corpus dir; a name that only looks like one
already there (full-width letters, a Cyrillic ``а`` for a Latin ``a``) is refused, so that no two
files pass for one."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from confusable_homoglyphs.confusables import confusables_data

from ingest.readers import SUFFIXES
from settings import Settings

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_MAX_NAME_BYTES = 255  # what Linux file systems allow in one name
_TAKEN = "已有同名文件，确认覆盖后再上传 / already in the corpus, confirm overwrite to replace"
_PENDING = (
    "同名文件正在上传（任务排队或运行中），确认覆盖后再上传 / "
    "being uploaded by a queued or running job, confirm overwrite to replace"
)


class BadUpload(ValueError):
    """An upload refused before anything changed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def clean_name(raw: str | None, settings: Settings) -> str:
    """``raw`` as a corpus file name (NFC), or BadUpload saying what is wrong with it."""
    name = unicodedata.normalize("NFC", raw or "")
    plain = unicodedata.normalize("NFKC", name)
    shown = name.encode("unicode_escape").decode("ascii")[:80]
    if not plain.strip():
        raise BadUpload(422, "文件名为空 / the file has no name")
    if _CONTROL.search(name) or _CONTROL.search(plain):
        raise BadUpload(422, f"文件名含控制字符 / file name has control characters: {shown}")
    if "/" in plain or "\\" in plain or ".." in plain:
        raise BadUpload(422, f"文件名不能含路径或 “..” / file name must not contain a path or '..': {shown}")
    if plain.startswith(".") or name != name.strip() or plain != plain.strip():
        raise BadUpload(422, f"文件名不能以点或空格开头或结尾 / no hidden names or edge spaces: {shown}")
    if len(name) > settings.max_filename_chars or len(name.encode()) > _MAX_NAME_BYTES:
        raise BadUpload(
            422,
            f"文件名太长（最多 {settings.max_filename_chars} 字）/ "
            f"file name longer than {settings.max_filename_chars} characters",
        )
    if Path(name).suffix.lower() not in SUFFIXES:
        raise BadUpload(
            415, f"不支持的文件类型 / not a supported type: {shown} (supported: {', '.join(SUFFIXES)})"
        )
    return name


def check_batch(
    names: list[str],
    existing: set[str],
    overwrite: bool,
    settings: Settings,
    pending: frozenset[str] = frozenset(),
) -> None:
    """The rules for one upload as a whole: how many files, no twins, no silent overwrite of a
    file in the corpus (``existing``) or in an upload still to be done (``pending``)."""
    if not names:
        raise BadUpload(422, "没有选择文件 / no file uploaded")
    if len(names) > settings.max_upload_files:
        raise BadUpload(
            422,
            f"一次最多上传 {settings.max_upload_files} 个文件 / at most {settings.max_upload_files} files",
        )
    if len({skeleton(n) for n in names}) != len(names):
        raise BadUpload(422, "同一个文件名出现了两次 / the same file name appears twice")
    look_alike = {skeleton(e): e for e in existing | pending}
    posing = sorted(f"{n} ≈ {look_alike[skeleton(n)]}" for n in names if look_alike.get(skeleton(n), n) != n)
    if posing:
        raise BadUpload(
            409,
            f"文件名与已有文件看起来相同，请改名 / looks the same as a file in the corpus, rename it: "
            f"{', '.join(posing)}",
        )
    if overwrite:
        return
    for taken, message in ((existing, _TAKEN), (pending, _PENDING)):
        if clashes := sorted(set(names) & taken):
            raise BadUpload(409, f"{message}: {', '.join(clashes)}")


def skeleton(name: str) -> str:
    """What ``name`` looks like: NFKC, each non-ASCII character that passes for an ASCII one (in
    Unicode's confusables list) replaced by it. Two names with the same skeleton look the same."""
    return "".join(_ascii_look_alike(ch) for ch in unicodedata.normalize("NFKC", name))


def _ascii_look_alike(ch: str) -> str:
    if ch.isascii():
        return ch
    glyphs = [g["c"] for g in confusables_data.get(ch, ()) if len(g["c"]) == 1 and g["c"].isascii()]
    return glyphs[0] if glyphs else ch
