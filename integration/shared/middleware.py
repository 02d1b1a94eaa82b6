"""Request guards (issue 8).

``RefuseNulMiddleware``: a NUL character in the path or the query string is answered 400
before any view runs. PostgreSQL text cannot hold NUL, so such a value reaching a lookup or a
filter would otherwise be a database error, a 500 (SQLite took it; the schemathesis and
hostile-input tests found it on PostgreSQL). Bodies are left to the forms and serializers,
which already refuse NUL (Django's and DRF's ProhibitNullCharactersValidator).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, JsonResponse


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in unquote(query) or "\x00" in unquote(query.replace("+", " ")):
            return JsonResponse({"error": "the URL contains a NUL character"}, status=400)
        return self.get_response(request)
