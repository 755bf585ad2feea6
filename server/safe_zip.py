"""Unpacking an uploaded zip without trusting it: limits on members, unpacked bytes and the
compression ratio (a zip bomb claims thousands to one), counted on the bytes actually read, not
on what the zip's directory claims. Only the named members are read, and they are written under
names of our own, so a member's path (``../``, absolute, a link) never becomes a file name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from settings import Settings

_CHUNK = 1 << 16
# Below this a member may compress as well as it likes (a small, repetitive file does).
_RATIO_FLOOR = 1 << 20


class UnsafeZip(ValueError):
    """A zip that is refused, with the message to show."""


def open_zip(data: bytes, settings: Settings) -> zipfile.ZipFile:
    """The archive, after the checks its directory allows: a zip, not too many members, not too
    much claimed in all, no member or the whole compressed beyond the ratio."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UnsafeZip("不是有效的 zip 文件 / not a valid zip file") from None
    members = archive.infolist()
    if len(members) > settings.max_zip_members:
        raise UnsafeZip(
            f"zip 内文件太多（{len(members)}，最多 {settings.max_zip_members}）/ too many members in the zip"
        )
    claimed = sum(m.file_size for m in members)
    if claimed > settings.max_unzipped_bytes:
        raise UnsafeZip(_too_big(settings))
    ratio = settings.max_zip_ratio
    if claimed > _RATIO_FLOOR and claimed > ratio * max(len(data), 1):
        raise UnsafeZip(_too_compressed(ratio))
    for m in members:
        if m.file_size > _RATIO_FLOOR and m.file_size > ratio * max(m.compress_size, 1):
            raise UnsafeZip(_too_compressed(ratio))
    return archive


def extract(archive: zipfile.ZipFile, wanted: dict[str, Path], settings: Settings) -> None:
    """Write member ``name`` to ``path`` for each of ``wanted``, counting what is really unpacked:
    the directory may lie about sizes."""
    left = settings.max_unzipped_bytes
    for name, path in wanted.items():
        info = archive.getinfo(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as source, open(path, "wb") as target:
                written = 0
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    left -= len(chunk)
                    if left < 0 or written > info.file_size:
                        raise UnsafeZip(_too_big(settings))
                    target.write(chunk)
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile, EOFError) as exc:
            # RuntimeError: encrypted; NotImplementedError: a compression method zipfile lacks.
            raise UnsafeZip(f"无法解压 {name} / cannot unpack {name}: {exc}") from None


def _too_big(settings: Settings) -> str:
    mb = settings.max_unzipped_bytes / 1048576
    return f"zip 解压后太大（最多 {mb:.0f} MB）/ the zip unpacks to more than {mb:.0f} MB"


def _too_compressed(ratio: int) -> str:
    return f"zip 压缩比异常（超过 {ratio}:1），疑似压缩炸弹 / compression ratio over {ratio}:1, refused"
