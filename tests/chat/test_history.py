"""Message history: keyset pages at depth, backwards and forwards, each message once."""

from __future__ import annotations

import pytest

from apps.accounts.selectors import actor_for
from apps.chat import services
from tests.chat.conftest import support_ticket

TOTAL = 260


@pytest.fixture
def deep_channel(org, client_for):  # type: ignore[no-untyped-def]
    client = client_for(org.tenant, org.player)
    cid = support_ticket(client)["id"]
    actor = actor_for(user=org.player, tenant=org.tenant)
    ids = [
        services.message_send(actor=actor, channel_id=cid, content=f"m{n}").pk for n in range(TOTAL)
    ]
    return client, cid, ids


def test_walk_back_with_before(deep_channel):
    client, cid, ids = deep_channel
    seen: list[int] = []
    page = client.get(f"/api/chat/channels/{cid}/messages").json()
    pages = 1
    while True:
        assert page["direction"] == "older"
        batch = [m["id"] for m in page["messages"]]
        assert batch == sorted(batch, reverse=True)  # newest first
        seen += batch
        if not page["hasMore"]:
            break
        page = client.get(f"/api/chat/channels/{cid}/messages?before={batch[-1]}").json()
        pages += 1
    assert seen == list(reversed(ids))
    assert pages == 6  # 50 a page


def test_resume_forward_with_after(deep_channel):
    client, cid, ids = deep_channel
    cursor = ids[9]  # the last message this client saw
    seen: list[int] = []
    while True:
        page = client.get(f"/api/chat/channels/{cid}/messages?after={cursor}&limit=100").json()
        assert page["direction"] == "newer"
        batch = [m["id"] for m in page["messages"]]
        seen += batch
        if not page["hasMore"]:
            break
        cursor = batch[-1]
    assert seen == ids[10:]  # every later message once, in order


def test_after_the_newest_is_empty(deep_channel):
    client, cid, ids = deep_channel
    page = client.get(f"/api/chat/channels/{cid}/messages?after={ids[-1]}").json()
    assert page == {"messages": [], "hasMore": False, "direction": "newer"}


def test_limit_and_detail_page(deep_channel):
    client, cid, ids = deep_channel
    page = client.get(f"/api/chat/channels/{cid}/messages?limit=7").json()
    assert [m["id"] for m in page["messages"]] == list(reversed(ids[-7:]))
    assert page["hasMore"] is True
    detail = client.get(f"/api/chat/channels/{cid}").json()
    assert [m["id"] for m in detail["messages"]["messages"]] == list(reversed(ids[-50:]))
    assert detail["messages"]["hasMore"] is True


def test_cursor_from_another_channel_is_refused(deep_channel, org, client_for):
    client, cid, ids = deep_channel
    other = support_ticket(client)["id"]
    response = client.get(f"/api/chat/channels/{other}/messages?before={ids[5]}")
    assert response.status_code == 400
    assert "before" in response.json()["error"]["fields"]
