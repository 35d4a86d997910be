"""Canned responses: saved answers staff insert into tickets.

A tenant's set lives in its schema, for its staff; the platform-wide set lives in the
public schema, for super admins on platform tickets. Which set a request reaches follows
from the host (the console's host: the platform set), and which set a ticket's message
uses follows from where the ticket lives, so a tenant's answers never reach another
tenant's, nor the platform's, tickets.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import User
from apps.chat import policy
from apps.chat.locate import PUBLIC, Located
from apps.chat.models import CannedResponse
from apps.core.db import on_schema
from apps.core.exceptions import Conflict, InvalidInput, NotFound
from apps.core.fields import db_int, storable_text

PLACEHOLDERS = ("{requester.name}", "{agent.name}", "{ticket.subject}")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\.[A-Za-z_]+\}")
MAX_BODY = 5_000
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def canned_schema(actor: Actor) -> str:
    """The set this host's requests read and write."""
    return PUBLIC if actor.tenant.is_public else actor.tenant.schema_name


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required.", fields={field: ["May not be blank."]})
    if len(value) > limit or not storable_text(value):
        raise InvalidInput(
            f"{field} is not acceptable.",
            fields={field: [f"At most {limit} characters, no NUL characters."]},
        )
    return value


def _cleaned(shortcut: object, title: object, body: object) -> tuple[str, str, str]:
    if not isinstance(shortcut, str) or not SHORTCUT.match(shortcut):
        raise InvalidInput(
            "Invalid shortcut.",
            fields={"shortcut": ["1-50 of a-z, 0-9, '-', '_'; a letter or digit first."]},
        )
    body_text = _text(body, "body", MAX_BODY)
    unknown = sorted({p for p in _PLACEHOLDER.findall(body_text) if p not in PLACEHOLDERS})
    if unknown:
        raise InvalidInput(
            "Unknown placeholder.",
            fields={"body": [f"Unknown {', '.join(unknown)}; use {', '.join(PLACEHOLDERS)}."]},
        )
    return shortcut, _text(title, "title", 200), body_text


def _save(response: CannedResponse) -> CannedResponse:
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError:
        raise Conflict(
            "A canned response with this shortcut exists.", code="shortcut_taken"
        ) from None
    return response


def canned_response_create(
    *, actor: Actor, shortcut: object, title: object, body: object
) -> CannedResponse:
    policy.can_manage_canned(actor).enforce()
    shortcut, title, body = _cleaned(shortcut, title, body)
    with on_schema(canned_schema(actor)):
        return _save(
            CannedResponse(shortcut=shortcut, title=title, body=body, created_by=actor.user)
        )


def _get(actor: Actor, response_id: object) -> CannedResponse:
    try:
        return CannedResponse.objects.get(pk=db_int(response_id))
    except (ValueError, CannedResponse.DoesNotExist):
        raise NotFound("Canned response not found.") from None


def canned_response_update(
    *, actor: Actor, response_id: object, shortcut: object, title: object, body: object
) -> CannedResponse:
    policy.can_manage_canned(actor).enforce()
    with on_schema(canned_schema(actor)):
        response = _get(actor, response_id)
        response.shortcut, response.title, response.body = _cleaned(shortcut, title, body)
        response.updated_at = timezone.now()
        return _save(response)


def canned_response_delete(*, actor: Actor, response_id: object) -> None:
    policy.can_manage_canned(actor).enforce()
    with on_schema(canned_schema(actor)):
        _get(actor, response_id).delete()


def render(body: str, *, requester: str, agent: str, subject: str) -> str:
    """The placeholders replaced, in one pass (a value holding a placeholder stays as
    written); anything else in braces is left alone."""
    values = {
        "{requester.name}": requester,
        "{agent.name}": agent,
        "{ticket.subject}": subject,
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), body)


def canned_response_rendered(*, actor: Actor, located: Located, canned_response_id: object) -> str:
    """The text of a canned response for this ticket, from the set where the ticket lives
    (the connection is on the channel's schema)."""
    policy.can_use_canned(actor, located).enforce()
    try:
        response = CannedResponse.objects.get(pk=db_int(canned_response_id))
    except (ValueError, CannedResponse.DoesNotExist):
        raise InvalidInput(
            "Unknown canned response.", fields={"cannedResponseId": ["No such canned response."]}
        ) from None
    ticket = located.channel.ticket
    requester = (
        User.objects.filter(pk=ticket.requester_id).values_list("display_name", flat=True).first()
    )
    return render(
        response.body,
        requester=requester or "",
        agent=actor.user.display_name,
        subject=located.channel.subject,
    )
