"""URLs of the operations manual (issue 10): /help/, the other docs pages, their images."""

from django.urls import path

from integration import help_views

urlpatterns = [
    path("help/", help_views.manual, name="help"),
    path("help/screenshots/<str:name>", help_views.image, {"folder": "screenshots"}, name="help_screenshot"),
    path("help/<str:page>.md", help_views.manual, name="help_page"),
    path("help/<str:name>", help_views.image, name="help_image"),
]
