"""The pages and their assets, as served (no browser): which page each host answers, the
Content-Security-Policy, the assets on every host, and the API's routes left alone."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.tenancy.models import Tenant


def _get(host: str, path: str) -> object:
    return Client(HTTP_HOST=host).get(path)


def test_a_tenant_host_serves_the_app_and_the_public_host_the_console(acme):
    app = _get("acme.localhost", "/")
    console = _get("localhost", "/")
    assert app.status_code == 200 and console.status_code == 200
    assert b"/static/web/app.js" in app.content and acme.name.encode() in app.content
    assert b"/static/web/console.js" in console.content
    assert b"Platform console" in console.content


def test_pages_allow_no_inline_script_nor_any_other_origin():
    policy = _get("acme.localhost", "/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "https:" not in policy and "http:" not in policy
    page = _get("acme.localhost", "/").content.decode()
    # Every script is an external module of our own; no inline script, no handler attributes.
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/static/web/app.js">']
    assert not re.search(r"\son[a-z]+=", page)


@pytest.mark.parametrize(
    "asset",
    [
        "web/chat-client.js",
        "web/chat-client.d.ts",
        "web/ui.js",
        "web/people.js",
        "web/access.js",
        "web/style.css",
    ],
)
def test_assets_are_served_on_every_host(asset):
    for host in ("localhost", "acme.localhost"):
        response = _get(host, f"/static/{asset}")
        assert response.status_code == 200, (host, asset)


def test_mailed_links_open_pages_invitations_on_tenant_hosts_resets_on_every_host(acme, globex):
    for host, path in [
        ("acme.localhost", "/join?token=abc"),
        ("globex.localhost", "/join?token=abc"),
        ("acme.localhost", "/reset-password?token=abc"),
        ("localhost", "/reset-password?token=abc"),
    ]:
        page = _get(host, path)
        assert page.status_code == 200, (host, path)
        html = page.content.decode()
        assert re.findall(r"<script[^>]*>", html) == [
            '<script type="module" src="/static/web/access.js">'
        ]
        assert page["Content-Security-Policy"] == _get(host, "/")["Content-Security-Policy"]
        # The token is in the address: it leaves in no Referer.
        assert page["Referrer-Policy"] == "no-referrer"
    assert acme.name in _get("acme.localhost", "/join").content.decode()
    assert globex.name in _get("globex.localhost", "/join").content.decode()
    # The console's host has no invitations to accept.
    assert _get("localhost", "/join").json()["error"]["code"] == "not_found"


def test_a_suspended_tenant_page_says_so_and_its_api_stays_closed(acme):
    Tenant.objects.filter(pk=acme.pk).update(status="SUSPENDED")
    page = _get("acme.localhost", "/")
    assert page.status_code == 403
    assert b"This organisation is suspended" in page.content
    api = _get("acme.localhost", "/api/auth/me")
    assert api.status_code == 403 and api.json()["error"]["code"] == "tenant_suspended"
    assert _get("acme.localhost", "/static/web/style.css").status_code == 200
    for path in ("/join?token=abc", "/reset-password?token=abc"):
        assert b"This organisation is suspended" in _get("acme.localhost", path).content


def test_pages_do_not_shadow_api_routes_or_unknown_paths():
    assert _get("acme.localhost", "/api/chat/channels").json()["error"]["code"] in {
        "not_authenticated",
        "authentication_failed",
    }
    unknown = _get("acme.localhost", "/settings")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert _get("nowhere.localhost", "/").json()["error"]["code"] == "unknown_host"


def test_the_api_docs_load_swagger_ui_from_our_own_assets():
    page = _get("localhost", "/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/static/drf_spectacular_sidecar/") for src in sources)
    bundle = sources[[s.endswith("swagger-ui-bundle.js") for s in sources].index(True)]
    assert _get("localhost", bundle).status_code == 200
