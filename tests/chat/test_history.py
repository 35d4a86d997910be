"""Message history: keyset pages at depth, backwards and forwards, each message once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.chat.models import Channel, Message, SenderType
from tests.chat.conftest import support_ticket

TOTAL = 260


@pytest.fixture
def deep_channel(org: Any, client_for: Any) -> tuple[Any, str, list[int]]:
    """A support ticket with TOTAL messages from the player, written in one insert as the
    service writes them one by one: seq 1, 2, 3, ... and the channel's last-message
    fields."""
    client = client_for(org.tenant, org.player)
    cid = support_ticket(client)["id"]
    start = timezone.now()
    with schema_context(org.tenant.schema_name):
        messages = Message.objects.bulk_create(
            Message(
                channel_id=cid,
                seq=n + 1,
                sender=org.player,
                sender_type=SenderType.PARTICIPANT,
                content=f"m{n}",
                created_at=start + timedelta(milliseconds=n),
            )
            for n in range(TOTAL)
        )
        Channel.objects.filter(pk=cid).update(
            last_seq=TOTAL, last_message=messages[-1], last_activity_at=messages[-1].created_at
        )
    return client, cid, [m.pk for m in messages]


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


@pytest.mark.parametrize("field", ["before", "after"])
def test_cursor_from_another_channel_is_refused(deep_channel, field):
    client, cid, ids = deep_channel
    other = support_ticket(client)["id"]
    response = client.get(f"/api/chat/channels/{other}/messages?{field}={ids[5]}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_before_the_oldest_is_an_empty_page_not_an_error(deep_channel):
    client, cid, ids = deep_channel
    response = client.get(f"/api/chat/channels/{cid}/messages?before={ids[0]}")
    assert response.status_code == 200
    assert response.json() == {"messages": [], "hasMore": False, "direction": "older"}


def test_a_page_deep_in_history_costs_the_queries_of_the_first(deep_channel):
    """The cursor's position is read inside the page's query: no round trip more for a
    page 250 messages back than for the newest."""
    client, cid, ids = deep_channel
    client.get(f"/api/chat/channels/{cid}/messages")  # warm: host and credential caches
    with CaptureQueriesContext(connection) as newest:
        client.get(f"/api/chat/channels/{cid}/messages")
    with CaptureQueriesContext(connection) as deep:
        page = client.get(f"/api/chat/channels/{cid}/messages?before={ids[10]}").json()
    assert [m["id"] for m in page["messages"]] == list(reversed(ids[:10]))
    assert len(deep.captured_queries) == len(newest.captured_queries)
