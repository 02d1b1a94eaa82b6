"""A CSV download streamed row by row: a whole table (the item master, a month of differences,
the exception queue) is never held in memory, and the first rows leave before the last are read."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse


class _Echo:
    """A file-like object that hands back what the CSV writer writes, so each row can be yielded."""

    def write(self, value: str) -> str:
        return value


def csv_download(rows: Iterable[Iterable[Any]], filename: str,
                 content_type: str = "text/csv") -> StreamingHttpResponse:
    """``rows`` (the header first) as an attachment named ``filename``, written as they come."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
