"""URLs of the dispatch screens: the overdue page, a promise, a dispatch's detail and release."""

from django.urls import path

from integration.dispatches import views

urlpatterns = [
    path("overdue/", views.overdue, name="overdue"),
    path("overdue/<str:ord_num>/promise/", views.overdue_promise, name="overdue_promise"),
    path("dispatches/<str:dispatch_id>/", views.dispatch_detail, name="dispatch_detail"),
]
