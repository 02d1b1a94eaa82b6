"""What both simulators' responses need beyond their views."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ContentLength:
    """Give every response a Content-Length. Without one waitress sends the body chunked and
    closes the connection after it, so every call the integration made opened a new TCP
    connection (measured: 603 connects for 603 calls), which real services behind a keep-alive
    gateway do not make it do, and which cost both sides CPU on these two cores (issue 9)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.streaming and "Content-Length" not in response:
            response["Content-Length"] = str(len(response.content))
        return response
