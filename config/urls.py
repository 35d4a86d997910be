from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.chat.api.sla import SlaPoliciesApi
from apps.core.errors import handler400, handler403, handler404, handler500  # noqa: F401
from apps.records.api.views import TenantAuditApi

urlpatterns = [
    path("api/auth/", include("apps.accounts.api.urls")),
    path("api/auth/", include("apps.sso.api.urls")),
    path("api/", include("apps.people.api.urls")),
    path("api/chat/", include("apps.chat.api.urls")),
    path("api/console/", include("apps.platform.api.urls")),
    path("api/", include("apps.chat.api.member_urls")),
    path("api/audit", TenantAuditApi.as_view(), name="audit"),
    path("api/sla-policies", SlaPoliciesApi.as_view(), name="sla-policies"),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]),
        name="docs",
    ),
    # The web client answers `/` only, so no page can shadow an API route.
    path("", include("apps.web.urls")),
]
