"""Helpers of the people tests: the links in mails."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.mail import EmailMultiAlternatives
from rest_framework.test import APIClient

LINK = re.compile(r"https?://\S+")


def links(message: EmailMultiAlternatives) -> tuple[str, str]:
    """The link of the text part and the one of the HTML part."""
    text = LINK.findall(message.body)
    html_body = str(message.alternatives[0][0])
    html = re.findall(r'href="([^"]+)"', html_body)
    assert len(text) >= 1 and html, (message.body, html_body)
    return text[-1], html[-1]


# The page a mailed link opens, and the API that page asks what the token names.
PAGE_API = {
    "/join": "/api/invitations/accept",
    "/reset-password": "/api/auth/password-reset/confirm",
}


def follow(link: str) -> tuple[APIClient, str, Any]:
    """Opens the link on its own host, as a person clicking it would: the page loads, and
    asks the API what the token names. Returns a client on that host, the token the link
    carries, and the API's answer."""
    parts = urlsplit(link)
    client = APIClient(HTTP_HOST=parts.hostname)
    token = parse_qs(parts.query)["token"][0]
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200, page.content
    assert page["Content-Type"].startswith("text/html")
    assert page["Referrer-Policy"] == "no-referrer"
    return client, token, client.get(PAGE_API[parts.path], {"token": token})
