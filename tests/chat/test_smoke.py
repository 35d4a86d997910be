from tests.chat.conftest import support_ticket


def test_support_flow(org, super_admin, client_for, published):
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player, category="TOURNAMENT_ISSUE", priority="HIGH")
    assert channel["ticket"]["status"] == "OPEN"
    r = player.post(
        f"/api/chat/channels/{channel['id']}/messages", {"content": "help"}, format="json"
    )
    assert r.status_code == 201, r.json()
    admin = client_for(org.tenant, org.admin)
    lst = admin.get("/api/chat/channels").json()["channels"]
    assert lst[0]["unreadCount"] == 1, lst
    r = admin.put(
        f"/api/chat/channels/{channel['id']}/escalate", {"reason": "stuck"}, format="json"
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ESCALATED"
    d = client_for(org.tenant, super_admin).get(f"/api/chat/channels/{channel['id']}")
    assert d.status_code == 200, d.json()
    print(d.json())
    print(published.names())
