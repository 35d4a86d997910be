"""Messages: sending, moderation and read state."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.chat import events, policy
from apps.chat.locate import PUBLIC, Located, channel_located, channel_pk
from apps.chat.models import (
    ChannelType,
    Message,
    MessageKind,
    Participant,
    ParticipantRole,
    SenderType,
)
from apps.chat.payloads import message_payload
from apps.chat.services.canned import canned_response_rendered
from apps.chat.services.escalations import _audit
from apps.chat.services.tickets import _ticket_after_message
from apps.chat.services.timeline import (
    Appended,
    _announce,
    _append,
    _post,
    _tenant_schema,
    _user_groups,
)
from apps.core.exceptions import InvalidInput, NotFound
from apps.core.fields import db_int, storable_text
from apps.core.metrics import MESSAGES_SENT
from apps.records.audit import Action

MAX_CONTENT = 10_000


def content_clean(content: object) -> str:
    """Message text is stored exactly as sent: 1 to 10,000 characters, not blank, and
    text PostgreSQL can store (REST's parser refuses the same characters)."""
    if not isinstance(content, str):
        raise InvalidInput(
            "Message content must be text.", fields={"content": ["Must be a string."]}
        )
    if not content.strip():
        raise InvalidInput("Message content is empty.", fields={"content": ["May not be blank."]})
    if len(content) > MAX_CONTENT:
        raise InvalidInput(
            "Message content is too long.",
            fields={"content": [f"At most {MAX_CONTENT} characters."]},
        )
    if not storable_text(content):
        raise InvalidInput(
            "Message content holds characters that cannot be stored.",
            fields={"content": ["No NUL characters or lone surrogates."]},
        )
    return content


def sender_type_of(actor: Actor) -> SenderType:
    if actor.is_super_admin:
        return SenderType.SUPER_ADMIN
    assert actor.role is not None  # everyone else acts through a membership
    return SenderType(actor.role)


def _mark_read_to(participant: Participant | None, seq: int, public_seq: int) -> None:
    if participant is not None and seq > participant.last_read_seq:
        participant.last_read_seq = seq
        participant.last_read_public_seq = max(public_seq, participant.last_read_public_seq)
        participant.last_read_at = timezone.now()
        participant.save(update_fields=["last_read_seq", "last_read_public_seq", "last_read_at"])


def message_kind_clean(kind: object) -> MessageKind:
    """What a client may send: a normal message (`USER`) or an internal note (`NOTE`)."""
    if kind not in (MessageKind.USER, MessageKind.NOTE):
        raise InvalidInput("Unknown message kind.", fields={"kind": ["Must be USER or NOTE."]})
    return MessageKind.NOTE if kind == MessageKind.NOTE else MessageKind.USER


def message_send(
    *,
    actor: Actor,
    channel_id: object,
    content: object = None,
    kind: object = MessageKind.USER,
    canned_response_id: object = None,
) -> Message:
    """A message, or with `kind=NOTE` an internal note; with `canned_response_id` the
    saved answer rendered for this ticket is the content (a normal message)."""
    message_kind = message_kind_clean(kind)
    if canned_response_id is not None and content is not None:
        raise InvalidInput(
            "Give either content or cannedResponseId.",
            fields={"content": ["Not with cannedResponseId."]},
        )
    text = content_clean(content) if canned_response_id is None else ""
    if canned_response_id is None and message_kind == MessageKind.USER:
        posted = _posted_at_once(actor, channel_id, text)
        if posted is not None:
            MESSAGES_SENT.inc()
            return posted
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        if channel.type not in _TENANT_HOST_ONLY:
            _not_at_once(channel.pk)
        note = message_kind == MessageKind.NOTE
        if note:
            policy.can_post_note(actor, located).enforce()
        else:
            policy.can_post(actor, located).enforce()
        if canned_response_id is not None:
            text = content_clean(
                canned_response_rendered(
                    actor=actor, located=located, canned_response_id=canned_response_id
                )
            )
        if located.participant is None:
            # A super admin answering a platform ticket from the console joins it.
            located.participant = Participant.objects.create(
                channel=channel, user=actor.user, role=ParticipantRole.ADMIN
            )
        appended = _append(
            channel,
            content=text,
            sender=actor.user,
            sender_type=sender_type_of(actor),
            kind=message_kind,
            author=located.participant,
            tenant_id=located.tenant_id,
        )
        message = appended.message
        if note:
            # Not an answer to the requester: to the notes room only; no badge, no first
            # response, no audit.
            _announce(located, message)
            return message
        _announce_with_badges(actor, located, appended)
        _ticket_after_message(actor, located)
        _audit(
            actor,
            located,
            Action.TICKET_REPLIED,
            Action.ESCALATION_REPLIED,
            messageId=message.pk,
        )
    MESSAGES_SENT.inc()
    return message


# Channel types never escalated nor platform tickets: only their tenant's host shows them.
_TENANT_HOST_ONLY = (ChannelType.TEAM, ChannelType.TOURNAMENT)

# Channels seen to be of another type (types never change), which `_posted_at_once` does
# not try: a ticket's messages go straight to the general path. A cache of this process,
# emptied when full; whatever it says, the outcome is the same.
_OTHER_TYPES: set[UUID] = set()
_OTHER_TYPES_MAX = 10_000


def _not_at_once(channel_id: UUID) -> None:
    if len(_OTHER_TYPES) >= _OTHER_TYPES_MAX:
        _OTHER_TYPES.clear()
    _OTHER_TYPES.add(channel_id)


def _posted_at_once(actor: Actor, channel_id: object, text: str) -> Message | None:
    """Most messages, in one statement and no transaction of their own: a member's
    message in a team or tournament channel (`timeline._post`). None for everything
    else, which the general path decides: super admins, tickets, archived channels,
    observers, channels not found."""
    if actor.is_super_admin or actor.tenant.is_public:
        return None
    pk = channel_pk(channel_id)
    if pk in _OTHER_TYPES:
        return None
    appended = _post(
        pk, content=text, sender=actor.user, sender_type=sender_type_of(actor), tenant=actor.tenant
    )
    if appended is None:
        return None
    _announce_in_tenant(actor.tenant.schema_name, pk, appended)
    return appended.message


def _announce_in_tenant(schema: str, channel_id: UUID, appended: Appended) -> None:
    """A team or tournament message: `new_message` to the room and the readers' badges,
    on the tenant's host only, in one publish (`events.publish_message`)."""
    message = appended.message
    events.publish_message(
        data=message_payload(message),
        group=events.channel_group(schema, channel_id),
        schema=schema,
        channel_id=channel_id,
        seq=message.public_seq,
        readers=appended.readers,
    )


def _announce_with_badges(actor: Actor, located: Located, appended: Appended) -> None:
    """The room gets `new_message`, and every other participant's badge moves, whether or
    not they joined the room: one layer message per host, which each process fans out to
    its own sockets. Team and tournament channels are shown only on their tenant's host:
    the message travels with that host's badges, one publish in all."""
    channel = located.channel
    schema = _tenant_schema(actor, channel)
    if channel.type in _TENANT_HOST_ONLY:
        _announce_in_tenant(located.schema, channel.pk, appended)
        return
    message = appended.message
    _announce(located, message)
    events.publish_badges(
        schemas=[schema, PUBLIC],
        channel_id=channel.pk,
        seq=message.public_seq,
        readers=appended.readers,
    )


def message_remove(*, actor: Actor, channel_id: object, message_id: object) -> Message:
    """Moderation in TOURNAMENT channels: the message is kept, marked removed."""
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        policy.can_remove_message(actor, located).enforce()
        try:
            message = Message.objects.select_for_update().get(
                channel=channel, pk=db_int(message_id)
            )
        except (ValueError, Message.DoesNotExist):
            raise NotFound("Message not found.") from None
        if message.removed_at is None:
            message.removed_at = timezone.now()
            message.removed_by = actor.user
            message.save(update_fields=["removed_at", "removed_by"])
            events.publish(
                "message_removed",
                message_payload(message),
                groups=[events.channel_group(located.schema, channel.pk)],
            )
    return message


def read_mark(*, actor: Actor, channel_id: object, message_id: object) -> Participant:
    """Read state moves forward only: marking an older message read changes nothing."""
    with transaction.atomic(), channel_located(actor, channel_id) as located:
        policy.can_mark_read(actor, located).enforce()
        participant = located.participant
        assert participant is not None
        messages = Message.objects.filter(channel=located.channel)
        if not policy.sees_notes(actor, located.channel):
            messages = messages.exclude(kind=MessageKind.NOTE)
        try:
            seq, public_seq, kind = messages.values_list("seq", "public_seq", "kind").get(
                pk=db_int(message_id)
            )
        except (ValueError, Message.DoesNotExist):
            raise InvalidInput(
                "Unknown message.", fields={"messageId": ["No such message in this channel."]}
            ) from None
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if seq > participant.last_read_seq:
            _mark_read_to(participant, seq, public_seq)
            channel = located.channel
            unread = max(channel.last_public_seq - public_seq, 0)
            data = {
                "channelId": str(channel.pk),
                "userId": actor.user.pk,
                "messageId": db_int(message_id),
                "seq": seq,
                "unreadCount": unread,
            }
            # Reading up to a note is news for those who see notes only.
            room = events.notes_group if kind == MessageKind.NOTE else events.channel_group
            events.publish("message_read", data, groups=[room(located.schema, channel.pk)])
            # The reader's tabs and devices update their badge (replacing any coalesced
            # update still waiting there).
            events.publish_read(
                channel_id=channel.pk,
                unread=unread,
                groups=_user_groups(actor, channel, [actor.user.pk]),
            )
        participant.unread_count = max(
            located.channel.last_public_seq - participant.last_read_public_seq, 0
        )
    return participant
