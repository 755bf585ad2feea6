"""The key the machine-facing faces ask for when YIBAO_API_KEY is set: the chat API (/v1) and MCP (/mcp)."""

from __future__ import annotations

import hmac

from settings import Settings


def key_accepted(authorization: str | None, settings: Settings) -> bool:
    """True without a key set; else only for exactly ``Bearer <key>`` (compared in constant time)."""
    if not settings.api_key:
        return True
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {settings.api_key}".encode())
