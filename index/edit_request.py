"""A corpus edit written down to be carried out later by `yibao ingest --edit FILE` (what an
admin upload or delete runs as a background job): the files to add or replace, each by its corpus
name and the file its bytes wait in, and the names to remove. The files are named relative to the
edit file's folder, which holds them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO


@dataclass(frozen=True)
class EditRequest:
    add: dict[str, Path] = field(default_factory=dict)  # corpus name → where its bytes are
    remove: tuple[str, ...] = ()

    def write(self, path: Path) -> None:
        folder = path.parent
        record = {
            "add": {name: file.relative_to(folder).as_posix() for name, file in self.add.items()},
            "remove": list(self.remove),
        }
        path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> EditRequest:
        """The edit in ``path``; ValueError when it is not one."""
        record = json.loads(path.read_text(encoding="utf-8"))
        add, remove = (record.get("add"), record.get("remove")) if isinstance(record, dict) else (None, None)
        if not isinstance(add, dict) or not isinstance(remove, list):
            raise ValueError(f"{path} is not an edit: expected {{'add': {{name: file}}, 'remove': [names]}}")
        if not all(isinstance(v, str) for v in [*add, *add.values(), *remove]):
            raise ValueError(f"{path}: names and files must be strings")
        if outside := [name for name in [*add, *remove] if not _inside(name)]:
            raise ValueError(f"{path}: not paths inside the corpus dir: {', '.join(outside)}")
        return cls({name: path.parent / file for name, file in add.items()}, tuple(remove))

    @contextlib.contextmanager
    def opened(self) -> Iterator[dict[str, BinaryIO]]:
        """The files to add, open for reading."""
        with contextlib.ExitStack() as stack:
            yield {name: stack.enter_context(open(file, "rb")) for name, file in self.add.items()}


def _inside(name: str) -> bool:
    """A relative path that stays in the corpus dir and that its readers see (not hidden)."""
    parts = PurePosixPath(name).parts
    return bool(parts) and not name.startswith("/") and not any(p.startswith(".") for p in parts)
