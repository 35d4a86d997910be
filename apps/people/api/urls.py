from django.urls import path

from apps.people.api import views

urlpatterns = [
    path("invitations", views.InvitationsApi.as_view(), name="invitations"),
    path("invitations/accept", views.InvitationAcceptApi.as_view(), name="invitation-accept"),
    path("invitations/<int:invitation_id>", views.InvitationApi.as_view(), name="invitation"),
    path("auth/password", views.PasswordChangeApi.as_view(), name="auth-password"),
    path("auth/password-reset", views.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm",
        views.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/sessions", views.SessionsApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<int:session_id>", views.SessionApi.as_view(), name="auth-session"),
]
