"""Wrong admin logins and bearer tokens are slowed per client address: a few are free, then each
attempt must wait a delay that doubles (429 with Retry-After before its time, the token not even
looked at), every failure is logged with the address, and another address is not affected."""

from __future__ import annotations

import logging
import re

from fastapi.testclient import TestClient

from tests.admin.conftest import TOKEN, Site

ATTEMPTS = 20


def login(client: TestClient, token: str) -> tuple[int, str | None]:
    """A login through the form (its CSRF token first, as a browser does); status, Retry-After."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/login").text).group(1)
    response = client.post("/admin/login", data={"token": token, "csrf": csrf})
    return response.status_code, response.headers.get("retry-after")


def test_twenty_wrong_logins_are_slowed_and_logged(site: Site, caplog) -> None:
    free = site.settings.auth_free_failures
    with caplog.at_level(logging.WARNING, logger="server.auth_throttle"):
        answers = [login(site.client, "wrong") for _ in range(ATTEMPTS)]
    assert [status for status, _ in answers[:free]] == [401] * free
    slowed = answers[free:]
    assert slowed[0][0] == 401  # the next failure is checked, then the wait starts
    assert all(status == 429 and int(retry) >= 1 for status, retry in slowed[1:])
    # The right token is not even checked while the address waits.
    status, retry = login(site.client, TOKEN)
    assert status == 429 and int(retry) >= 1
    assert "too many failed attempts" in site.client.post("/admin/login", data={"token": TOKEN}).text
    failures = [r.getMessage() for r in caplog.records if "wrong login from testclient" in r.getMessage()]
    assert len(failures) == free + 1 and "checked in 1 s" in failures[-1]

    other = TestClient(site.client.app, client=("10.0.0.7", 40000))
    assert login(other, "wrong")[0] == 401
    assert login(other, TOKEN)[0] == 200


def test_wrong_bearer_tokens_are_slowed_with_a_growing_delay(site: Site, caplog) -> None:
    free = site.settings.auth_free_failures
    statuses, waits = [], []
    with caplog.at_level(logging.WARNING, logger="server.auth_throttle"):
        for n in range(ATTEMPTS):
            response = site.client.get("/api/admin/documents", headers={"Authorization": f"Bearer guess{n}"})
            statuses.append(response.status_code)
            waits.append(response.headers.get("retry-after"))
    assert statuses == [401] * (free + 1) + [429] * (ATTEMPTS - free - 1)
    right = site.client.get("/api/admin/documents", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 429  # until the wait is over
    assert sum("wrong bearer token from testclient" in r.getMessage() for r in caplog.records) == free + 1
    # A missing header is no guess: it is refused, not counted.
    other = TestClient(site.client.app, client=("10.0.0.8", 40000))
    for _ in range(ATTEMPTS):
        assert other.get("/api/admin/documents").status_code == 401
    ok = other.get("/api/admin/documents", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_the_delay_doubles_with_each_failure() -> None:
    from server.auth_throttle import AuthThrottle

    throttle = AuthThrottle(free_failures=2, max_delay=8)
    waits = []
    for _ in range(8):
        throttle.failed("1.2.3.4", "login")
        waits.append(round(throttle.wait("1.2.3.4")))
    assert waits == [0, 0, 1, 2, 4, 8, 8, 8]
    throttle.succeeded("1.2.3.4")
    assert throttle.wait("1.2.3.4") == 0
