"""The edit file `yibao ingest --edit` reads (what an admin upload's job runs): written and read
back with its files, and refused when it is not one or names a path outside the corpus dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.edit_request import EditRequest


def test_an_edit_is_read_back_with_its_files(tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "0.pdf").write_bytes(b"%PDF-1.7 bytes")
    edit = EditRequest(add={"指南（2024）.pdf": tmp_path / "inputs" / "0.pdf"}, remove=("旧/通知.txt",))
    edit.write(tmp_path / "edit.json")
    assert json.loads((tmp_path / "edit.json").read_text(encoding="utf-8"))["add"] == {
        "指南（2024）.pdf": "inputs/0.pdf"
    }
    again = EditRequest.read(tmp_path / "edit.json")
    assert again == edit
    with again.opened() as files:
        assert files["指南（2024）.pdf"].read() == b"%PDF-1.7 bytes"


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ([], "is not an edit"),
        ({"add": {}}, "is not an edit"),
        ({"add": {"a.txt": 3}, "remove": []}, "must be strings"),
        ({"add": {"../a.txt": "f"}, "remove": []}, "not paths inside the corpus dir: ../a.txt"),
        ({"add": {}, "remove": ["/etc/passwd"]}, "not paths inside the corpus dir"),
        ({"add": {}, "remove": [".yibao-staging/plan.json"]}, "not paths inside the corpus dir"),
    ],
)
def test_what_is_not_an_edit_is_refused(tmp_path: Path, record: object, says: str) -> None:
    path = tmp_path / "edit.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ValueError, match=says.replace(".", r"\.")):
        EditRequest.read(path)
