from django.urls import path

from apps.chat.api import canned, members, reports

urlpatterns = [
    path("members", members.MembersApi.as_view(), name="members"),
    path("members/<str:user_id>", members.MemberApi.as_view(), name="member"),
    path(
        "members/<str:user_id>/suspend", members.MemberSuspendApi.as_view(), name="member-suspend"
    ),
    path(
        "members/<str:user_id>/reactivate",
        members.MemberReactivateApi.as_view(),
        name="member-reactivate",
    ),
    path("reports", reports.ReportsApi.as_view(), name="reports"),
    path("canned-responses", canned.CannedResponsesApi.as_view(), name="canned-responses"),
    path(
        "canned-responses/<str:response_id>",
        canned.CannedResponseApi.as_view(),
        name="canned-response",
    ),
]
