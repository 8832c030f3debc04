"""The REST API's one body parser (its own module: DRF reads its settings while `core.api`
imports DRF's views)."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from . import jsonsafe


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with the body's size and nesting bounded before parsing, and NaN or
    Infinity refused (core/jsonsafe.py): a 400 with `code`, never a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read() if stream is not None else b""
        try:
            return jsonsafe.loads(data, max_bytes=settings.MAX_REQUEST_BYTES)
        except jsonsafe.BadJSON as exc:
            raise ParseError(exc.detail, code=exc.code) from None
