"""Login limits keyed on the real client address and on the account; socket tickets
(single use, short-lived, bound to the host and the token); the token lifetime."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from apps.accounts.models import ApiToken, Role
from apps.accounts.services import token_issue, token_revoke
from config.asgi import application
from tests.conftest import PASSWORD


def login(client: Any, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(
        "/api/auth/login", {"email": email, "password": password}, format="json", **extra
    )


def test_a_forged_x_forwarded_for_does_not_escape_the_address_limit(
    acme: Any, client_for: Any, settings: Any
) -> None:
    settings.LOGIN_RATE = "5/min"
    client = client_for(acme)
    statuses = [
        login(client, f"x{n}@example.test", "bad", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(7)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]


def test_behind_a_proxy_the_limit_keys_on_the_address_it_appended(
    acme: Any, client_for: Any, settings: Any
) -> None:
    """NUM_PROXIES=1: the last X-Forwarded-For entry (the proxy's view) is the client."""
    settings.LOGIN_RATE = "2/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = client_for(acme)
    for forged in ("1.1.1.1", "2.2.2.2"):
        assert (
            login(client, "a@x.test", "bad", HTTP_X_FORWARDED_FOR=f"{forged}, 9.9.9.9").status_code
            == 401
        )
    assert (
        login(client, "a@x.test", "bad", HTTP_X_FORWARDED_FOR="3.3.3.3, 9.9.9.9").status_code == 429
    )
    # Another real client (another last entry) is not held up.
    assert login(client, "a@x.test", "bad", HTTP_X_FORWARDED_FOR="9.9.9.8").status_code == 401


def test_the_account_limit_refuses_even_the_right_password(
    acme: Any, make_user: Any, client_for: Any, settings: Any
) -> None:
    settings.LOGIN_ACCOUNT_RATE = "3/hour"
    user = make_user(acme)
    client = client_for(acme)
    for n in range(3):  # from three different addresses
        assert login(client, user.email, "bad", REMOTE_ADDR=f"10.1.0.{n}").status_code == 401

    refused = login(client, f"  {user.email.upper()} ", PASSWORD, REMOTE_ADDR="10.1.0.9")

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 3000  # the hour's window
    assert not ApiToken.objects.filter(user=user).exists()
    other = make_user(acme)
    assert login(client, other.email, REMOTE_ADDR="10.1.0.9").status_code == 200


def _connect(path: str, host: str = "acme.localhost") -> dict[str, Any]:
    """What the server did: `{"type": "open"}`, or the close message with its code."""

    async def go() -> dict[str, Any]:
        socket = WebsocketCommunicator(application, path, headers=[(b"host", host.encode())])
        await socket.connect()
        if await socket.receive_nothing(timeout=0.3):
            await socket.disconnect()
            return {"type": "open"}
        return await socket.receive_output(timeout=2)

    return async_to_sync(go)()


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def _ticket(client: Any) -> dict[str, Any]:
    response = client.post("/api/auth/ws-ticket")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_ticket_opens_one_socket_once(acme: Any, make_user: Any, client_for: Any) -> None:
    user = make_user(acme)
    client = client_for(acme, user)
    body = _ticket(client)
    assert body["ticket"] not in client._credentials["HTTP_AUTHORIZATION"]
    expires = timezone.datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(seconds=0) < expires - timezone.now() <= timedelta(seconds=30)

    first = _connect(f"/ws/chat/?ticket={body['ticket']}")
    again = _connect(f"/ws/chat/?ticket={body['ticket']}")

    assert first == {"type": "open"}
    assert again == {"type": "websocket.close", "code": 4401}


def test_a_ticket_needs_a_credential_and_is_refused_elsewhere_or_late(
    acme: Any, globex: Any, make_user: Any, client_for: Any, settings: Any
) -> None:
    assert client_for(acme).post("/api/auth/ws-ticket").status_code == 401
    user = make_user(acme)
    make_user(globex)
    from apps.accounts.services import membership_set

    membership_set(user=user, tenant=globex, role=Role.PARTICIPANT)
    on_acme = _ticket(client_for(acme, user))["ticket"]
    elsewhere = _connect(f"/ws/chat/?ticket={on_acme}", host="globex.localhost")
    assert elsewhere["code"] == 4401  # bound to acme's host, and now used up

    settings.WS_TICKET_TTL_SECONDS = 1
    late = _ticket(client_for(acme, user))["ticket"]
    import time

    time.sleep(1.2)
    expired = _connect(f"/ws/chat/?ticket={late}")
    assert expired["code"] == 4401
    forged = _connect("/ws/chat/?ticket=not-a-ticket")
    assert forged["code"] == 4401


def test_a_ticket_dies_with_its_token(acme: Any, make_user: Any, client_for: Any) -> None:
    user = make_user(acme)
    raw, token = token_issue(user=user)
    client = client_for(acme)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    ticket = _ticket(client)["ticket"]
    token_revoke(token=token)

    output = _connect(f"/ws/chat/?ticket={ticket}")

    assert output["code"] == 4401


def test_the_socket_knows_the_token_it_lives_by(acme: Any, make_user: Any, client_for: Any) -> None:
    """A ticket's socket carries the bearer token's id, as a `?token=` socket does, so
    revoking that token reaches it."""
    from apps.chat import ws

    user = make_user(acme)
    raw, token = token_issue(user=user)
    client = client_for(acme)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for query in (f"ticket={_ticket(client)['ticket']}", f"token={raw}"):
        scope: dict[str, Any] = {
            "headers": [(b"host", b"acme.localhost")],
            "query_string": query.encode(),
        }
        actor, refused = ws._authenticate(scope)
        assert refused is None and actor is not None and actor.user == user
        assert scope["token_id"] == token.pk
        ws.SocketLeases.release(scope["socket_id"])


def test_tokens_live_a_day_by_default(acme: Any, make_user: Any, client_for: Any) -> None:
    user = make_user(acme)
    response = login(client_for(acme), user.email)
    expires = ApiToken.objects.get(user=user).expires_at
    assert response.status_code == 200
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(days=1)


def test_tickets_with_the_cache_away_answer_503(
    acme: Any, make_user: Any, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def away(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Redis is away")

    monkeypatch.setattr("apps.accounts.tickets.cache.set", away)
    response = client_for(acme, make_user(acme)).post("/api/auth/ws-ticket")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0
