"""Who may use the admin: a bearer token for the API, a login session (cookie) for the pages.

Sessions live in this process's memory: logging out ends one for good, a restart ends them all.
Every state-changing admin form carries the session's CSRF token; the cookie is HttpOnly and
SameSite=Strict, so another site can neither read it nor make the browser send it."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException

from settings import Settings

SESSION_COOKIE = "yibao_admin"
LOGIN_COOKIE = "yibao_login"  # the login form's own CSRF token, before any session exists
COOKIE_PATH = "/admin"
DISABLED = "管理功能未启用 / admin is disabled (set YIBAO_ADMIN_TOKEN)"


@dataclass
class Session:
    csrf: str
    expires: float  # time.monotonic()


class Sessions:
    def __init__(self, minutes: int) -> None:
        self._seconds = minutes * 60
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[session_id] = Session(secrets.token_urlsafe(32), now + self._seconds)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires <= time.monotonic():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


def token_matches(given: str, settings: Settings) -> bool:
    return bool(settings.admin_token) and hmac.compare_digest(given.encode(), settings.admin_token.encode())


def require_bearer(authorization: str, settings: Settings) -> None:
    """The API's check: 403 while admin is disabled, 401 for a missing or wrong token."""
    if not settings.admin_token:
        raise HTTPException(403, DISABLED)
    # Exactly "Bearer <token>": nothing else, not even a stray space, is taken for it.
    if not hmac.compare_digest(authorization.encode(), f"Bearer {settings.admin_token}".encode()):
        raise HTTPException(401, "令牌无效 / missing or wrong admin token")


def same_token(expected: str | None, given: str) -> bool:
    """Constant-time comparison of a CSRF token with the one the form sent."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
