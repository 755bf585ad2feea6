"""The question log stays within its size as well as its age, and feedback is recorded only for
an answer that was given: an unknown id is a 404, not "thank you"."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

from answer.nonsense import no_content_answer
from server.querylog import FILE, QueryLog
from tests.admin.conftest import Site

ROWS = 50


def test_the_question_log_keeps_only_the_newest_entries_beyond_its_size(tmp_path: Path) -> None:
    log = QueryLog(tmp_path, retention_days=90, max_rows=ROWS)
    log.start()
    ids = [log.record(no_content_answer(f"问题{n}" * 100), "api", 1.0) for n in range(3 * ROWS)]
    log.flush()
    log.close()
    with sqlite3.connect(tmp_path / FILE) as db:
        kept = [row[0] for row in db.execute("SELECT id FROM questions ORDER BY rowid")]
    assert kept == ids[-ROWS:]
    # Restarted with a smaller cap, the log is trimmed at once.
    log = QueryLog(tmp_path, retention_days=90, max_rows=10)
    log.start()
    log.flush()
    log.close()
    with sqlite3.connect(tmp_path / FILE) as db:
        assert [row[0] for row in db.execute("SELECT id FROM questions ORDER BY rowid")] == ids[-10:]


def test_feedback_for_an_unknown_answer_is_a_404_and_for_a_known_one_recorded(site: Site) -> None:
    page = site.client.get("/?q=家庭共济怎么绑定").text
    entry = re.search(r'name="entry" value="([0-9a-f]{32})"', page).group(1)
    assert site.client.post("/feedback", data={"entry": entry, "helpful": "1"}).status_code == 200
    unknown = site.client.post("/feedback", data={"entry": uuid.uuid4().hex, "helpful": "0"})
    assert unknown.status_code == 404 and "feedback not recorded" in unknown.text
    assert site.client.post("/feedback", data={"entry": "nope", "helpful": "0"}).status_code == 422
    querylog = site.client.app.state.querylog
    querylog.flush()
    # After a restart the id is found in the log itself.
    fresh = QueryLog(site.settings.data_dir, 90, site.settings.log_max_rows)
    assert fresh.feedback(entry, False) == "recorded"
    assert fresh.feedback(uuid.uuid4().hex, False) == "unknown"
