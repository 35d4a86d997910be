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


def follow(link: str) -> tuple[APIClient, str, Any]:
    """GETs the link on its own host, as a person clicking it would; returns a client on
    that host, the token the link carries, and the response."""
    parts = urlsplit(link)
    client = APIClient(HTTP_HOST=parts.hostname)
    token = parse_qs(parts.query)["token"][0]
    return client, token, client.get(f"{parts.path}?{parts.query}")
