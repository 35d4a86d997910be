"""Escalation to the platform's super admins and hand-back, the public escalation index,
and the audit log entries of super admins' actions on channels."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import User
from apps.chat import events, policy
from apps.chat.locate import Located, channel_located
from apps.chat.models import Channel, ChannelStatus, ChannelType, Participant, ParticipantRole
from apps.chat.payloads import channel_payload
from apps.chat.services.channels_and_participants import _participant_ids, _super_admins
from apps.chat.services.counting import counted, desk_event
from apps.chat.services.timeline import _status_changed, _status_changed_by
from apps.core.exceptions import InvalidInput
from apps.records import audit, desk
from apps.records.audit import Action
from apps.records.models import Escalation, EscalationState
from apps.tenancy.models import Tenant


def _audit(
    actor: Actor,
    located: Located,
    on_ticket: str,
    on_escalation: str | None = None,
    **details: Any,
) -> None:
    """Super admins' actions go to the audit log: `on_ticket` on a platform ticket,
    `on_escalation` (the same when not given) on an escalated tenant channel."""
    if not actor.is_super_admin:
        return
    channel = located.channel
    platform = channel.type == ChannelType.PLATFORM_SUPPORT
    audit.record(
        actor=actor.user,
        action=on_ticket if platform else (on_escalation or on_ticket),
        tenant=channel.tenant if platform else actor.tenant,
        target_type="channel",
        target_id=channel.pk,
        details=details,
    )


def _escalation_closed(actor: Actor, channel: Channel, state: EscalationState) -> None:
    """Closes the channel's open escalation in the public index, and tells the console."""
    closed = Escalation.objects.filter(
        tenant=actor.tenant, channel_id=channel.pk, state=EscalationState.OPEN
    ).update(state=state, closed_at=timezone.now())
    if closed:
        events.publish(
            "escalation_closed",
            {"tenant": actor.tenant.schema_name, "channelId": str(channel.pk), "state": state},
            groups=[events.SUPER_ADMINS_GROUP],
        )


def channel_escalate(*, actor: Actor, channel_id: object, reason: str) -> Channel:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why it is escalated.", fields={"reason": ["May not be blank."]})
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        policy.can_escalate(actor, located).enforce()
        text = f"Escalated to platform support by {actor.user.display_name}: {reason}"
        _escalate(located, tenant=actor.tenant, by=actor.user, reason=reason, text=text)
    return located.channel


def escalate_by_system(located: Located, *, tenant: Tenant, reason: str) -> None:
    """The system escalates a tenant's SUPPORT channel (a missed SLA target), in the
    caller's transaction on the row-locked channel: as a person's escalation, by nobody."""
    text = f"Escalated to platform support: {reason}"
    _escalate(located, tenant=tenant, by=None, reason=reason, text=text)


def _escalate(located: Located, *, tenant: Tenant, by: User | None, reason: str, text: str) -> None:
    channel = located.channel
    now = timezone.now()
    with counted(located):
        channel.status = ChannelStatus.ESCALATED
        channel.escalation_reason = reason
        channel.escalated_at = now
        channel.resolved_at = None
        channel.save(
            update_fields=[
                "status",
                "escalation_reason",
                "escalated_at",
                "resolved_at",
                "updated_at",
            ]
        )
    if channel.has_ticket:
        desk_event(tenant.pk, channel.ticket, desk.ESCALATED, now)
    admins = _super_admins()
    existing = set(_participant_ids(channel))
    Participant.objects.bulk_create(
        [
            Participant(channel=channel, user=admin, role=ParticipantRole.ADMIN)
            for admin in admins
            if admin.pk not in existing
        ]
    )
    escalation = Escalation.objects.create(
        tenant=tenant,
        channel_id=channel.pk,
        subject=channel.subject,
        reason=reason,
        escalated_by=by,
        escalated_at=now,
    )
    audit.record(
        actor=by,
        action=Action.ESCALATION_OPENED,
        tenant=tenant,
        target_type="channel",
        target_id=channel.pk,
        details={"escalationId": escalation.pk, "reason": reason},
    )
    _status_changed_by(located, text, by.pk if by else None)
    events.publish(
        "ticket_escalated",
        {
            "tenant": tenant.schema_name,
            "channel": channel_payload(channel),
            "reason": reason,
            "escalatedBy": by.pk if by else None,
        },
        groups=[events.SUPER_ADMINS_GROUP],
    )


def channel_deescalate(*, actor: Actor, channel_id: object, note: str = "") -> Channel:
    """A super admin hands an escalated channel back to the tenant's staff: the channel is
    ACTIVE again (its ticket keeps its status), the escalation is closed as RETURNED, and
    a SYSTEM message says so."""
    note = (note or "").strip()
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        policy.can_hand_back(actor, located).enforce()
        with counted(located):
            channel.status = ChannelStatus.ACTIVE
            channel.save(update_fields=["status", "updated_at"])
        _escalation_closed(actor, channel, EscalationState.RETURNED)
        text = f"Handed back to {actor.tenant.name} by {actor.user.display_name}"
        _status_changed(actor, located, f"{text}: {note}" if note else f"{text}.")
        _audit(actor, located, Action.ESCALATION_RETURNED, note=note)
    return channel
