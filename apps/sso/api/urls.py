from django.urls import path

from apps.sso.api import views

urlpatterns = [
    path("sso", views.SsoExchangeApi.as_view(), name="auth-sso"),
    path("sso/provider", views.ProviderApi.as_view(), name="auth-sso-provider"),
]
