"""The super-admin console (public host only). Platform-support tickets are listed here
and worked with the chat endpoints on the same host (`/api/chat/channels/:id/...`);
escalated tenant channels are reached through their escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HostRequest, IsHostMember
from apps.chat import services as chat_services
from apps.chat.api.bodies import channel_detail_body, history_body
from apps.chat.api.reports import (
    ConsoleReportInput,
    ReportInput,
    report_body,
    report_range,
)
from apps.chat.api.reports import (
    ReportFiguresOutput as ReportFiguresOutput,
)
from apps.chat.api.serializers import (
    HistoryInput,
    MessageCreateInput,
    MessagePageOutput,
)
from apps.chat.api.sla import SlaPoliciesApi
from apps.chat.payloads import MessageOutput, message_payload
from apps.core.api import validated
from apps.platform import export, selectors, services, super_admins
from apps.platform import reports as platform_reports
from apps.platform.api.serializers import (
    AccountOutput,
    AuditListInput,
    AuditPageOutput,
    ConsoleTenantOutput,
    DeescalateInput,
    DeleteInput,
    EscalationDetailOutput,
    EscalationListInput,
    EscalationOutput,
    EscalationPageOutput,
    FiguresOutput,
    SuperAdminInviteInput,
    SuperAdminListOutput,
    SuspendInput,
    TenantCreatedOutput,
    TenantCreateInput,
    TenantListInput,
    TenantPageOutput,
    TicketPageOutput,
    TicketQueueInput,
)
from apps.sso import services as sso_services
from apps.sso.api.serializers import ProviderInput, ProviderOutput

TAGS = ["console"]


class IsConsole(IsHostMember):
    """A platform super admin, on the platform's own host (`services.require_console`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        services.require_console(cast(HostRequest, request).actor)
        return True


class ConsoleApi(APIView):
    permission_classes = [IsConsole]


class ConsoleSlaPoliciesApi(SlaPoliciesApi):
    """The platform's SLA targets, for PLATFORM_SUPPORT tickets (the console's calendar)."""

    permission_classes = [IsConsole]


# --- tenants -----------------------------------------------------------------------------


class TenantsApi(ConsoleApi):
    @extend_schema(
        parameters=[TenantListInput],
        responses={200: TenantPageOutput},
        operation_id="console_tenants_list",
        tags=TAGS,
        summary="Tenants by slug, with member, channel and open-ticket counts",
    )
    def get(self, request: HostRequest) -> Response:
        params = validated(TenantListInput, request.query_params)
        page = selectors.tenant_page(**params)
        return Response(TenantPageOutput(page).data)

    @extend_schema(
        request=TenantCreateInput,
        responses={201: TenantCreatedOutput},
        tags=TAGS,
        summary="Provision a tenant: schema, domain <slug>.<base domain>, first tenant admin",
    )
    def post(self, request: HostRequest) -> Response:
        data = validated(TenantCreateInput, request.data)
        result = services.tenant_create(
            actor=request.actor,
            slug=data["slug"],
            name=data["name"],
            admin_email=data["adminEmail"],
            admin_name=data.get("adminName"),
        )
        result.tenant = selectors.tenant_detail(result.tenant)
        return Response(TenantCreatedOutput(result).data, status=201)


class TenantApi(ConsoleApi):
    @extend_schema(
        responses={200: ConsoleTenantOutput}, tags=TAGS, summary="One tenant, with counts"
    )
    def get(self, request: HostRequest, slug: str) -> Response:
        tenant = selectors.tenant_detail(services.tenant_get(slug))
        return Response(ConsoleTenantOutput(tenant).data)

    @extend_schema(
        request=DeleteInput,
        responses={204: None},
        tags=TAGS,
        summary='Delete a tenant and drop its schema; body {"confirm": "<slug>"}',
    )
    def delete(self, request: HostRequest, slug: str) -> Response:
        data = validated(DeleteInput, request.data)
        services.tenant_delete(actor=request.actor, slug=slug, confirm=data["confirm"])
        return Response(status=204)


class TenantSuspendApi(ConsoleApi):
    @extend_schema(
        request=SuspendInput,
        responses={200: ConsoleTenantOutput},
        tags=TAGS,
        summary="Suspend: its hosts answer 403 tenant_suspended, its sockets are closed",
    )
    def put(self, request: HostRequest, slug: str) -> Response:
        data = validated(SuspendInput, request.data)
        tenant = services.tenant_suspend(actor=request.actor, slug=slug, reason=data["reason"])
        return Response(ConsoleTenantOutput(selectors.tenant_detail(tenant)).data)


class TenantReactivateApi(ConsoleApi):
    @extend_schema(
        request=None, responses={200: ConsoleTenantOutput}, tags=TAGS, summary="Reactivate"
    )
    def put(self, request: HostRequest, slug: str) -> Response:
        tenant = services.tenant_reactivate(actor=request.actor, slug=slug)
        return Response(ConsoleTenantOutput(selectors.tenant_detail(tenant)).data)


class TenantIdentityProviderApi(ConsoleApi):
    """The tenant's identity provider for single sign-on, as its admins see it on its host
    (`/api/auth/sso/provider`)."""

    @extend_schema(
        responses={200: ProviderOutput},
        operation_id="console_identity_provider_get",
        tags=TAGS,
        summary="The tenant's identity provider (404 sso_not_configured)",
    )
    def get(self, request: HostRequest, slug: str) -> Response:
        tenant = services.tenant_get(slug)
        provider = sso_services.provider_get(actor=request.actor, tenant=tenant)
        return Response(ProviderOutput(provider).data)

    @extend_schema(
        request=ProviderInput,
        responses={200: ProviderOutput},
        operation_id="console_identity_provider_put",
        tags=TAGS,
        summary="Create or replace the tenant's identity provider",
    )
    def put(self, request: HostRequest, slug: str) -> Response:
        data = ProviderInput(data=request.data)
        data.is_valid(raise_exception=True)
        provider = sso_services.provider_put(
            actor=request.actor, tenant=services.tenant_get(slug), settings=data.provider_settings()
        )
        return Response(ProviderOutput(provider).data)

    @extend_schema(
        request=None,
        responses={204: None},
        operation_id="console_identity_provider_delete",
        tags=TAGS,
        summary="Remove the tenant's identity provider",
    )
    def delete(self, request: HostRequest, slug: str) -> Response:
        sso_services.provider_delete(actor=request.actor, tenant=services.tenant_get(slug))
        return Response(status=204)


def _next_piece(pieces: Iterator[str]) -> str | None:
    return next(pieces, None)


async def _streamed(first: str, rest: Iterator[str]) -> AsyncIterator[bytes]:
    """Each piece is read in the worker thread Django uses for this request's database
    work; the server sends it before the next one is read."""
    yield first.encode()
    while (piece := await sync_to_async(_next_piece)(rest)) is not None:
        yield piece.encode()


class TenantExportApi(ConsoleApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        summary="The tenant's chat data as one JSON document, streamed (members, channels "
        "with messages, platform tickets, escalations)",
    )
    def get(self, request: HostRequest, slug: str) -> StreamingHttpResponse:
        pieces = export.tenant_export(actor=request.actor, slug=slug)
        first = next(pieces)  # checks access and the tenant before anything is sent
        response = StreamingHttpResponse(_streamed(first, pieces), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{slug}-export.json"'
        return response


class FiguresApi(ConsoleApi):
    @extend_schema(
        responses={200: FiguresOutput},
        tags=TAGS,
        summary="Platform figures: tenants, active channels, open tickets, escalations waiting",
    )
    def get(self, request: HostRequest) -> Response:
        return Response(FiguresOutput(selectors.platform_figures()).data)


# --- reports -----------------------------------------------------------------------------


class ConsoleReportOutput(serializers.Serializer):
    locals()["from"] = serializers.DateTimeField()
    to = serializers.DateTimeField()
    groupBy = serializers.CharField(allow_null=True)
    tenants = ReportFiguresOutput(
        help_text="Every tenant's own desk, from the public rollups: whole UTC days starting "
        "in [from, to); medians and p90s from histograms (within 10%)."
    )
    platformTickets = ReportFiguresOutput(help_text="Platform-support tickets, exact.")


class TenantReportOutput(serializers.Serializer):
    locals()["from"] = serializers.DateTimeField()
    to = serializers.DateTimeField()
    groupBy = serializers.CharField(allow_null=True)
    tenant = serializers.CharField()
    desk = ReportFiguresOutput(help_text="The tenant's SUPPORT tickets, from its schema.")
    platformTickets = ReportFiguresOutput(help_text="Its platform tickets (no assignee groups).")


class ReportsApi(ConsoleApi):
    @extend_schema(
        parameters=[ConsoleReportInput],
        responses={200: ConsoleReportOutput},
        tags=TAGS,
        summary="Support figures over every tenant (rollups) and the platform's own tickets; "
        "groupBy day, category, priority or tenant",
    )
    def get(self, request: HostRequest) -> Response:
        start, end, group = report_range(request.query_params, ConsoleReportInput)
        figures = platform_reports.platform_report(
            actor=request.actor, start=start, end=end, group=group
        )
        return Response(report_body(start, end, group, figures))


class TenantReportsApi(ConsoleApi):
    @extend_schema(
        parameters=[ReportInput],
        responses={200: TenantReportOutput},
        tags=TAGS,
        summary="One tenant's support figures (its schema) and its platform tickets",
    )
    def get(self, request: HostRequest, slug: str) -> Response:
        start, end, group = report_range(request.query_params)
        figures = platform_reports.tenant_report(
            actor=request.actor, slug=slug, start=start, end=end, group=group
        )
        return Response(report_body(start, end, group, figures))


# --- platform-support queue --------------------------------------------------------------


class TicketQueueApi(ConsoleApi):
    @extend_schema(
        parameters=[TicketQueueInput],
        responses={200: TicketPageOutput},
        tags=TAGS,
        summary="Platform-support queue, most urgent first. Work a ticket with the chat "
        "endpoints on this host: messages, assign, ticket, resolve",
    )
    def get(self, request: HostRequest) -> Response:
        params = validated(TicketQueueInput, request.query_params)
        page = selectors.ticket_queue(
            user_id=request.actor.user.pk,
            status=params.get("status"),
            priority=params.get("priority"),
            category=params.get("category"),
            tenant=params.get("tenant"),
            assignee=params.get("assigneeId"),
            unassigned=params["unassigned"],
            limit=params["limit"],
            offset=params["offset"],
        )
        return Response(TicketPageOutput({"tickets": page.items, "total": page.total}).data)


# --- escalations -------------------------------------------------------------------------


def _escalation_body(found: selectors.ConsoleEscalation) -> dict[str, Any]:
    channel = channel_detail_body(found.actor, found.escalation.channel_id)
    return {"escalation": EscalationOutput(found.escalation).data, "channel": channel}


class EscalationsApi(ConsoleApi):
    @extend_schema(
        parameters=[EscalationListInput],
        responses={200: EscalationPageOutput},
        operation_id="console_escalations_list",
        tags=TAGS,
        summary="Escalations across all tenants (the public index), newest first",
    )
    def get(self, request: HostRequest) -> Response:
        params = validated(EscalationListInput, request.query_params)
        page = selectors.escalation_list(**params)
        return Response(EscalationPageOutput({"escalations": page.items, "total": page.total}).data)


class EscalationApi(ConsoleApi):
    @extend_schema(
        responses={200: EscalationDetailOutput},
        tags=TAGS,
        summary="An escalation with its tenant channel, participants and newest messages",
    )
    def get(self, request: HostRequest, escalation_id: int) -> Response:
        found = selectors.escalation_for(actor=request.actor, escalation_id=escalation_id)
        return Response(_escalation_body(found))


class EscalationMessagesApi(ConsoleApi):
    @extend_schema(
        parameters=[HistoryInput],
        responses={200: MessagePageOutput},
        tags=TAGS,
        summary="The escalated channel's history (before=/after= cursors)",
    )
    def get(self, request: HostRequest, escalation_id: int) -> Response:
        found = selectors.escalation_for(actor=request.actor, escalation_id=escalation_id)
        channel_id = found.escalation.channel_id
        return Response(history_body(found.actor, channel_id, request.query_params))

    @extend_schema(
        request=MessageCreateInput,
        responses={201: MessageOutput},
        tags=TAGS,
        summary="Reply in the tenant's channel as SUPER_ADMIN (or an internal note)",
    )
    def post(self, request: HostRequest, escalation_id: int) -> Response:
        found = selectors.escalation_for(actor=request.actor, escalation_id=escalation_id)
        data = validated(MessageCreateInput, request.data)
        message = chat_services.message_send(
            actor=found.actor,
            channel_id=found.escalation.channel_id,
            content=data.get("content"),
            kind=data["kind"],
            canned_response_id=data.get("cannedResponseId"),
        )
        return Response(message_payload(message), status=201)


class EscalationResolveApi(ConsoleApi):
    @extend_schema(
        request=None,
        responses={200: EscalationDetailOutput},
        tags=TAGS,
        summary="Resolve the escalated channel (and its ticket)",
    )
    def put(self, request: HostRequest, escalation_id: int) -> Response:
        found = selectors.escalation_for(actor=request.actor, escalation_id=escalation_id)
        services.escalation_resolve(actor=found.actor, escalation=found.escalation)
        return Response(_escalation_body(found))


class EscalationReturnApi(ConsoleApi):
    @extend_schema(
        request=DeescalateInput,
        responses={200: EscalationDetailOutput},
        tags=TAGS,
        summary="Hand the channel back to the tenant's staff (de-escalate), with a note",
    )
    def put(self, request: HostRequest, escalation_id: int) -> Response:
        found = selectors.escalation_for(actor=request.actor, escalation_id=escalation_id)
        data = validated(DeescalateInput, request.data)
        services.escalation_return(
            actor=found.actor, escalation=found.escalation, note=data["note"]
        )
        return Response(_escalation_body(found))


# --- audit -------------------------------------------------------------------------------


class AuditApi(ConsoleApi):
    @extend_schema(
        parameters=[AuditListInput],
        responses={200: AuditPageOutput},
        tags=TAGS,
        summary="The audit log, newest first (before=<id> pages back)",
    )
    def get(self, request: HostRequest) -> Response:
        params = validated(AuditListInput, request.query_params)
        page = selectors.audit_page(
            tenant=params.get("tenant"),
            action=params.get("action"),
            actor=params.get("actorId"),
            before=params.get("before"),
            limit=params["limit"],
        )
        return Response(AuditPageOutput({"entries": page.items, "has_more": page.has_more}).data)


# --- accounts ----------------------------------------------------------------------------


class SuperAdminsApi(ConsoleApi):
    @extend_schema(
        responses={200: SuperAdminListOutput},
        tags=TAGS,
        summary="Super admins, active first",
    )
    def get(self, request: HostRequest) -> Response:
        return Response(SuperAdminListOutput({"superAdmins": selectors.super_admin_list()}).data)

    @extend_schema(
        request=SuperAdminInviteInput,
        responses={201: AccountOutput, 200: AccountOutput},
        tags=TAGS,
        summary="Invite a super admin by email: creates the account (201, mailed a link to "
        "choose a password) or promotes an existing one (200, mailed a notice)",
    )
    def post(self, request: HostRequest) -> Response:
        data = validated(SuperAdminInviteInput, request.data)
        invited = super_admins.super_admin_invite(
            actor=request.actor, email=data["email"], display_name=data["displayName"]
        )
        return Response(AccountOutput(invited.user).data, status=201 if invited.created else 200)


class SuperAdminDeactivateApi(ConsoleApi):
    @extend_schema(
        request=None,
        responses={200: AccountOutput},
        tags=TAGS,
        summary="Deactivate a super admin (not yourself, not the last active one)",
    )
    def put(self, request: HostRequest, user_id: int) -> Response:
        user = super_admins.account_deactivate(
            actor=request.actor, user_id=user_id, super_admin=True
        )
        return Response(AccountOutput(user).data)


class AccountDeactivateApi(ConsoleApi):
    @extend_schema(
        request=None,
        responses={200: AccountOutput},
        tags=TAGS,
        summary="Deactivate any account: it cannot sign in, its sessions and sockets end",
    )
    def put(self, request: HostRequest, user_id: int) -> Response:
        user = super_admins.account_deactivate(actor=request.actor, user_id=user_id)
        return Response(AccountOutput(user).data)
