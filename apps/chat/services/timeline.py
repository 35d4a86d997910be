"""A channel's timeline: appending messages (the next sequence number, the channel's
last-message fields) and SYSTEM entries, and announcing them."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import User
from apps.chat import events
from apps.chat.locate import PUBLIC, Located
from apps.chat.models import Channel, ChannelType, Message, MessageKind, SenderType
from apps.chat.payloads import message_payload


def _tenant_schema(actor: Actor, channel: Channel) -> str:
    """The schema of the tenant the channel belongs to (its own, for platform tickets)."""
    if channel.type == ChannelType.PLATFORM_SUPPORT and channel.tenant is not None:
        return channel.tenant.schema_name
    return actor.tenant.schema_name


def _user_groups(actor: Actor, channel: Channel, user_ids: Iterable[int]) -> list[str]:
    schema = _tenant_schema(actor, channel)
    groups = [events.user_group(schema, uid) for uid in user_ids]
    groups += [events.user_group(PUBLIC, uid) for uid in user_ids]
    return groups


def _append(
    channel: Channel,
    *,
    content: str,
    sender: User | None,
    sender_type: SenderType,
    kind: MessageKind = MessageKind.USER,
) -> Message:
    """Adds a message to a row-locked channel: the next sequence number, and the channel's
    last-message fields, in the caller's transaction."""
    now = timezone.now()
    channel.last_seq += 1
    message = Message.objects.create(
        channel=channel,
        seq=channel.last_seq,
        sender=sender,
        sender_type=sender_type,
        kind=kind,
        content=content,
        created_at=now,
    )
    channel.last_message = message
    channel.last_activity_at = now
    channel.save(update_fields=["last_seq", "last_message", "last_activity_at", "updated_at"])
    return message


def _announce(located: Located, message: Message) -> None:
    events.publish(
        "new_message",
        message_payload(message),
        groups=[events.channel_group(located.schema, located.channel.pk)],
    )


def _system(located: Located, text: str) -> Message:
    message = _append(
        located.channel,
        content=text,
        sender=None,
        sender_type=SenderType.SYSTEM,
        kind=MessageKind.SYSTEM,
    )
    _announce(located, message)
    return message


def _status_changed(actor: Actor, located: Located, text: str) -> None:
    _system(located, text)
    channel = located.channel
    data = {
        "channelId": str(channel.pk),
        "status": channel.status,
        "ticketStatus": channel.ticket.status if channel.has_ticket else None,
        "changedBy": actor.user.pk,
    }
    events.publish(
        "channel_status_changed",
        data,
        groups=[events.channel_group(located.schema, channel.pk)],
    )
