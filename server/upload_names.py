"""Which uploaded files may enter the corpus dir, and under which name.

A name is taken as it is or refused, never silently rewritten: a person should find the file
under the name they gave it. Names carry no path (no separators, no ``..``), are not hidden, have
no control characters and a supported extension, so an upload can only land directly in the
corpus dir."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ingest.readers import SUFFIXES
from settings import Settings

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_MAX_NAME_BYTES = 255  # what Linux file systems allow in one name


class BadUpload(ValueError):
    """An upload refused before anything changed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def clean_name(raw: str | None, settings: Settings) -> str:
    """``raw`` as a corpus file name (NFC), or BadUpload saying what is wrong with it."""
    name = unicodedata.normalize("NFC", raw or "")
    shown = name.encode("unicode_escape").decode("ascii")[:80]
    if not name.strip():
        raise BadUpload(422, "文件名为空 / the file has no name")
    if _CONTROL.search(name):
        raise BadUpload(422, f"文件名含控制字符 / file name has control characters: {shown}")
    if "/" in name or "\\" in name or ".." in name:
        raise BadUpload(422, f"文件名不能含路径或 “..” / file name must not contain a path or '..': {shown}")
    if name.startswith(".") or name != name.strip():
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


def check_batch(names: list[str], existing: set[str], overwrite: bool, settings: Settings) -> None:
    """The rules for one upload as a whole: how many files, no twins, no silent overwrite."""
    if not names:
        raise BadUpload(422, "没有选择文件 / no file uploaded")
    if len(names) > settings.max_upload_files:
        raise BadUpload(
            422,
            f"一次最多上传 {settings.max_upload_files} 个文件 / at most {settings.max_upload_files} files",
        )
    if len(set(names)) != len(names):
        raise BadUpload(422, "同一个文件名出现了两次 / the same file name appears twice")
    clashes = sorted(set(names) & existing)
    if clashes and not overwrite:
        raise BadUpload(
            409,
            f"已有同名文件，确认覆盖后再上传 / already in the corpus, confirm overwrite to replace: "
            f"{', '.join(clashes)}",
        )
