"""Bad input on every chat endpoint: a 400 (404 for a bad id in the path) with the error
shape and the offending field, never a 500, and nothing stored or changed."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.chat.models import Channel, Message, Participant, SupportTicket
from tests.chat.conftest import support_ticket


@pytest.fixture
def setting(org: Any, client_for: Any) -> dict[str, Any]:
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player)
    message = player.post(
        f"/api/chat/channels/{channel['id']}/messages", {"content": "hi"}, format="json"
    ).json()
    return {"admin": client_for(org.tenant, org.admin), "cid": channel["id"], "mid": message["id"]}


def _state() -> tuple[Any, ...]:
    with schema_context("acme"):
        return (
            list(Channel.objects.values_list("id", "status", "assigned_to_id", "last_seq")),
            Message.objects.count(),
            list(Participant.objects.values_list("user_id", "role", "last_read_seq")),
            list(SupportTicket.objects.values_list("status", "priority", "category")),
        )


CASES = [
    # (method, path template, body, expected status, field named in the error or None)
    ("post", "/api/chat/channels", {}, 400, "type"),
    ("post", "/api/chat/channels", {"type": "CHAT"}, 400, "type"),
    ("post", "/api/chat/channels", {"type": "SUPPORT"}, 400, "subject"),
    ("post", "/api/chat/channels", {"type": "SUPPORT", "subject": "   "}, 400, "subject"),
    ("post", "/api/chat/channels", {"type": "SUPPORT", "subject": 42}, 400, "subject"),
    ("post", "/api/chat/channels", {"type": "SUPPORT", "subject": "x" * 201}, 400, "subject"),
    (
        "post",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "s", "priority": "ASAP"},
        400,
        "priority",
    ),
    (
        "post",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "s", "category": 1},
        400,
        "category",
    ),
    (
        "post",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "s", "participantIds": "1"},
        400,
        "participantIds",
    ),
    (
        "post",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "s", "participantIds": ["a"]},
        400,
        "participantIds.0",
    ),
    (
        "post",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "s", "participantIds": [999999]},
        400,
        "participantIds",
    ),
    ("post", "/api/chat/channels", {"type": "TEAM", "priority": "HIGH"}, 400, "priority"),
    ("post", "/api/chat/channels", {"type": "TOURNAMENT"}, 400, "contextId"),
    ("post", "/api/chat/channels", {"type": "TOURNAMENT", "contextId": ["x"]}, 400, "contextId"),
    ("post", "/api/chat/channels", [1, 2], 400, None),
    ("get", "/api/chat/channels?type=NOPE", None, 400, "type"),
    ("get", "/api/chat/channels?status=OPEN", None, 400, "status"),
    ("post", "{base}/messages", {}, 400, "content"),
    ("post", "{base}/messages", {"content": ""}, 400, "content"),
    ("post", "{base}/messages", {"content": " \n\t "}, 400, "content"),
    ("post", "{base}/messages", {"content": "x" * 10_001}, 400, "content"),
    ("post", "{base}/messages", {"content": 123}, 400, "content"),
    ("post", "{base}/messages", {"content": None}, 400, "content"),
    ("post", "{base}/messages", {"content": ["a"]}, 400, "content"),
    ("get", "{base}/messages?before=abc", None, 400, "before"),
    ("get", "{base}/messages?after=-1", None, 400, "after"),
    ("get", "{base}/messages?before=1&after=1", None, 400, "before"),
    ("get", "{base}/messages?limit=0", None, 400, "limit"),
    ("get", "{base}/messages?limit=101", None, 400, "limit"),
    ("get", "{base}/messages?before=999999", None, 400, "before"),
    ("put", "{base}/escalate", {}, 400, "reason"),
    ("put", "{base}/escalate", {"reason": "  "}, 400, "reason"),
    ("put", "{base}/escalate", {"reason": 5}, 400, "reason"),
    ("put", "{base}/assign", {}, 400, "assigneeId"),
    ("put", "{base}/assign", {"assigneeId": "me"}, 400, "assigneeId"),
    ("put", "{base}/assign", {"assigneeId": "{player}"}, 400, "assigneeId"),
    ("patch", "{base}/ticket", {"status": "DONE"}, 400, "status"),
    ("patch", "{base}/ticket", {"status": "CLOSED"}, 400, "status"),
    ("post", "{base}/read", {}, 400, "messageId"),
    ("post", "{base}/read", {"messageId": "x"}, 400, "messageId"),
    ("post", "{base}/read", {"messageId": 999999}, 400, "messageId"),
    ("post", "{base}/participants", {"userIds": []}, 400, "userIds"),
    ("post", "{base}/participants", {"userIds": [1], "role": "OWNER"}, 400, "role"),
    ("get", "/api/chat/channels/not-a-uuid", None, 404, None),
    ("post", "/api/chat/channels/not-a-uuid/messages", {"content": "x"}, 404, None),
    ("get", "/api/chat/channels/00000000-0000-0000-0000-000000000000", None, 404, None),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected", "field"),
    CASES,
    ids=[f"{m}-{p.split('/')[-1][:20]}-{i}" for i, (m, p, *_rest) in enumerate(CASES)],
)
def test_bad_input(method, path, body, expected, field, setting, org):
    path = path.format(base=f"/api/chat/channels/{setting['cid']}")
    if isinstance(body, dict):
        body = {k: (org.player.id if v == "{player}" else v) for k, v in body.items()}
    before = _state()

    response = getattr(setting["admin"], method)(path, body, format="json")

    assert response.status_code == expected, response.content[:300]
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field:
        assert field in error.get("fields", {}), error
    assert _state() == before


def test_non_json_body_is_a_parse_error(setting):
    response = setting["admin"].post(
        f"/api/chat/channels/{setting['cid']}/messages",
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_form_body_is_refused(setting):
    response = setting["admin"].post(
        f"/api/chat/channels/{setting['cid']}/messages", {"content": "x"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content",
    [
        "x" * 10_000,
        "<script>alert('x')</script><b>bold</b> &amp;",
        "  leading and trailing  \n",
        "emoji 🎉🏆 and ünïcödé, RTL עברית",
        "line one\r\nline two\n\n",
    ],
    ids=["max-length", "html", "whitespace", "unicode", "newlines"],
)
def test_content_is_stored_exactly_as_sent(content, setting):
    response = setting["admin"].post(
        f"/api/chat/channels/{setting['cid']}/messages", {"content": content}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["content"] == content
    with schema_context("acme"):
        assert Message.objects.get(pk=response.json()["id"]).content == content
    page = setting["admin"].get(f"/api/chat/channels/{setting['cid']}/messages").json()
    assert page["messages"][0]["content"] == content


@pytest.mark.parametrize("message_id", ["abc", "999999"])
def test_removing_an_unknown_message_is_404(message_id, org, client_for):
    from tests.chat.conftest import create_channel

    admin = client_for(org.tenant, org.admin)
    tour = create_channel(admin, type="TOURNAMENT", contextId="cup")
    response = admin.delete(f"/api/chat/channels/{tour['id']}/messages/{message_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
