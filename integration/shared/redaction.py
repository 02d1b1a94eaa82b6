"""Payloads shown to people: pretty-printed, with secrets masked.

The clients already strip Seko's ``api_key`` before anything is stored; this is the second
line, for whatever else a body or URL may carry (keys, tokens, passwords, auth headers), so the
dashboard never shows one whatever the source.
"""

from __future__ import annotations

import contextlib
import json
import re

MASK = "***"

# A secret-looking name followed by its value in JSON ("token": "x"), a query (api_key=x) or
# a header (Authorization: Token x).
_SECRET_NAMES = r"(?:api[_-]?key|apikey|subscription[_-]?key|password|passwd|secret|token|authorization|signature)"
_JSON_VALUE = re.compile(rf'("[\w-]*{_SECRET_NAMES}[\w-]*"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
_QUERY_VALUE = re.compile(rf"([?&;]\s*[\w-]*{_SECRET_NAMES}[\w-]*=)[^&#\s\"']*", re.IGNORECASE)
_HEADER_VALUE = re.compile(rf"(^|\n)(\s*[\w-]*{_SECRET_NAMES}[\w-]*\s*:\s*)[^\n]*", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """Return ``text`` with the value of every secret-looking field replaced by ``***``."""
    if not text:
        return ""
    text = _JSON_VALUE.sub(rf'\1"{MASK}"', text)
    text = _QUERY_VALUE.sub(rf"\1{MASK}", text)
    return _HEADER_VALUE.sub(rf"\1\2{MASK}", text)


def pretty(text: str) -> str:
    """JSON indented for reading (other text as it is), secrets masked."""
    if not text:
        return ""
    with contextlib.suppress(ValueError, TypeError):  # not JSON: shown as it is
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return mask_secrets(text)
