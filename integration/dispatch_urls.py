"""URLs of the dispatch flow (issue 5): Seko's webhook, the overdue page, a dispatch's form."""

from django.urls import path

from integration import dispatch_views, webhooks

urlpatterns = [
    # The one URL open to anonymous callers besides login: Seko authenticates with its token.
    path("webhooks/seko/", webhooks.seko_push, name="seko_webhook"),
    path("overdue/", dispatch_views.overdue, name="overdue"),
    path("overdue/<str:ord_num>/promise/", dispatch_views.overdue_promise, name="overdue_promise"),
    path("dispatches/<str:dispatch_id>/", dispatch_views.dispatch_detail, name="dispatch_detail"),
]
