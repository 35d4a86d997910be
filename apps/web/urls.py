from django.urls import path

from apps.web import views

urlpatterns = [
    path("", views.page, name="page"),
    path("join", views.join, name="join"),
    path("reset-password", views.reset_password, name="reset-password"),
]
