"""Every URL the project serves, with a concrete sample path and the capability that guards it.

Used by the anonymous-access test, the role-matrix test and ``manage.py permissions`` (which
writes docs/permissions.md), so a page someone adds later is covered without anyone listing it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, UUIDConverter
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLES = ["1", "x", "json", "warehouses", "auth", "a-1", ".json", ""]


class CannotBuildSample(Exception):
    """A pattern whose sample path could not be built; the message names it."""


@dataclass(frozen=True)
class Route:
    path: str  # a concrete path that resolves to this pattern, e.g. "/exceptions/1/"
    pattern: str  # as written, e.g. "exceptions/<int:pk>/"
    name: str
    callback: Callable[..., Any]

    @property
    def view_class(self) -> Any:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def capability(self) -> str | None:
        return getattr(self.callback, "capability", None) or getattr(self.view_class, "capability", None)

    @property
    def write_capability(self) -> str | None:
        return getattr(self.view_class, "write_capability", None)


def iter_routes() -> Iterator[Route]:
    yield from _walk(get_resolver(), "", "")


def _walk(resolver: URLResolver, prefix: str, shown: str) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        sample, written = _sample(entry.pattern), _readable(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + sample, shown + written)
        elif isinstance(entry, URLPattern):
            name = f"{entry.callback.__module__}.{getattr(entry.callback, '__name__', entry.callback)}"
            yield Route("/" + prefix + sample, shown + written, entry.name or name, entry.callback)


def _readable(pattern: Any) -> str:
    """A regex pattern as a person reads a route: ``^orders/(?P<ord_num>[^/]+)/$`` -> ``orders/<ord_num>/``."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text).removeprefix("^").removesuffix("$")
        text = text.replace(r"\.", ".").replace("/?", "/")
    return text


def _sample(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        for name, converter in pattern.converters.items():
            route = re.sub(rf"<(?:\w+:)?{name}>", _converter_sample(converter, name, route), route)
        return route
    if isinstance(pattern, RegexPattern):
        return _regex_sample(pattern.regex.pattern)
    raise CannotBuildSample(f"unknown pattern type {type(pattern).__name__}: {pattern}")


def _converter_sample(converter: Any, name: str, route: str) -> str:
    if isinstance(converter, IntConverter):
        return "1"
    if isinstance(converter, UUIDConverter):
        return str(uuid.UUID(int=1))
    for candidate in SAMPLES:
        if re.fullmatch(converter.regex, candidate):
            return candidate
    raise CannotBuildSample(f"no sample value for <{name}> in {route!r}")


def _regex_sample(regex: str) -> str:
    text = regex
    while (start := text.find("(?P<")) != -1:
        end = _group_end(text, start)
        name = text[start + 4:text.index(">", start)]
        inner = text[text.index(">", start) + 1:end]
        text = text[:start] + _value_for(inner, regex, prefer="json" if name == "format" else None) + text[end + 1:]
    text = text.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    text = text.replace("/?", "/").replace(r"\.", ".").replace(r"\/", "/").replace(r"\-", "-")
    if re.search(r"[\\()\[\]*+?|{}^$]", text):
        raise CannotBuildSample(f"cannot build a sample path for regex {regex!r}")
    return text


def _group_end(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "\\":
            continue
        if text[i] == "(" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == ")" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i
    raise CannotBuildSample(f"unbalanced group in {text!r}")


def _value_for(group_regex: str, whole: str, prefer: str | None = None) -> str:
    first_alternative = group_regex.split("|")[0]
    for candidate in [*([prefer] if prefer else []), *SAMPLES, first_alternative]:
        if re.fullmatch(group_regex, candidate):
            return candidate
    raise CannotBuildSample(f"no sample value for ({group_regex}) in {whole!r}")
