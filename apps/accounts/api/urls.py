from django.urls import path

from apps.accounts.api import views

urlpatterns = [
    path("login", views.LoginApi.as_view(), name="auth-login"),
    path("me", views.MeApi.as_view(), name="auth-me"),
    path("logout", views.LogoutApi.as_view(), name="auth-logout"),
    path("ws-ticket", views.WsTicketApi.as_view(), name="auth-ws-ticket"),
]
