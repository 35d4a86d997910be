"""Helpers shared by the chat tests (the fixtures they use live in `tests/conftest.py`)."""

from __future__ import annotations

from typing import Any


def create_channel(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/api/chat/channels", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def support_ticket(client: Any, **extra: Any) -> dict[str, Any]:
    body = {"type": "SUPPORT", "subject": "Cannot create tournament", **extra}
    return create_channel(client, **body)
