from django.urls import path

from apps.chat.api import views

urlpatterns = [
    path("channels", views.ChannelListApi.as_view(), name="channels"),
    path("channels/<str:channel_id>", views.ChannelDetailApi.as_view(), name="channel"),
    path("channels/<str:channel_id>/messages", views.MessagesApi.as_view(), name="messages"),
    path(
        "channels/<str:channel_id>/messages/<str:message_id>",
        views.MessageRemoveApi.as_view(),
        name="message",
    ),
    path("channels/<str:channel_id>/escalate", views.EscalateApi.as_view(), name="escalate"),
    path("channels/<str:channel_id>/assign", views.AssignApi.as_view(), name="assign"),
    path("channels/<str:channel_id>/resolve", views.ResolveApi.as_view(), name="resolve"),
    path("channels/<str:channel_id>/ticket", views.TicketApi.as_view(), name="ticket"),
    path("channels/<str:channel_id>/read", views.ReadApi.as_view(), name="read"),
    path("channels/<str:channel_id>/rating", views.RatingApi.as_view(), name="rating"),
    path(
        "channels/<str:channel_id>/participants",
        views.ParticipantsApi.as_view(),
        name="participants",
    ),
    path("unread", views.UnreadApi.as_view(), name="unread"),
]
