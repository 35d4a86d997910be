"""The audit log of one tenant, on its own host, for its admins."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import member_rules
from apps.accounts.permissions import HostRequest
from apps.core.api import validated
from apps.records import selectors
from apps.records.api.serializers import TenantAuditListInput, TenantAuditPageOutput


class TenantAuditApi(APIView):
    @extend_schema(
        parameters=[TenantAuditListInput],
        responses={200: TenantAuditPageOutput},
        tags=["members"],
        summary="This organisation's audit log, newest first (tenant admins; "
        "`before=<id>` pages back)",
    )
    def get(self, request: HostRequest) -> Response:
        member_rules.require_member_admin(request.actor)
        params = validated(TenantAuditListInput, request.query_params)
        page = selectors.tenant_audit_page(
            tenant=request.actor.tenant,
            action=params.get("action"),
            before=params.get("before"),
            limit=params["limit"],
        )
        return Response(TenantAuditPageOutput(page).data)
