from django.urls import path, register_converter

from apps.core.fields import BigIntConverter
from apps.platform.api import views

register_converter(BigIntConverter, "bigint")

urlpatterns = [
    path("tenants", views.TenantsApi.as_view(), name="console-tenants"),
    path("tenants/<str:slug>", views.TenantApi.as_view(), name="console-tenant"),
    path("tenants/<str:slug>/suspend", views.TenantSuspendApi.as_view()),
    path("tenants/<str:slug>/reactivate", views.TenantReactivateApi.as_view()),
    path("tenants/<str:slug>/export", views.TenantExportApi.as_view()),
    path("tenants/<str:slug>/identity-provider", views.TenantIdentityProviderApi.as_view()),
    path("figures", views.FiguresApi.as_view(), name="console-figures"),
    path("reports", views.ReportsApi.as_view(), name="console-reports"),
    path("tenants/<str:slug>/reports", views.TenantReportsApi.as_view()),
    path("sla-policies", views.ConsoleSlaPoliciesApi.as_view(), name="console-sla-policies"),
    path("tickets", views.TicketQueueApi.as_view(), name="console-tickets"),
    path("escalations", views.EscalationsApi.as_view(), name="console-escalations"),
    path("escalations/<bigint:escalation_id>", views.EscalationApi.as_view()),
    path("escalations/<bigint:escalation_id>/messages", views.EscalationMessagesApi.as_view()),
    path("escalations/<bigint:escalation_id>/resolve", views.EscalationResolveApi.as_view()),
    path("escalations/<bigint:escalation_id>/return", views.EscalationReturnApi.as_view()),
    path("audit", views.AuditApi.as_view(), name="console-audit"),
    path("super-admins", views.SuperAdminsApi.as_view(), name="console-super-admins"),
    path("super-admins/<int:user_id>/deactivate", views.SuperAdminDeactivateApi.as_view()),
    path("accounts/<int:user_id>/deactivate", views.AccountDeactivateApi.as_view()),
]
