"""Date and time formats in Simplified Chinese: the English ones (core/formats/en/formats.py)."""

from ..en.formats import DATETIME_FORMAT, SHORT_DATETIME_FORMAT, TIME_FORMAT

__all__ = ["DATETIME_FORMAT", "SHORT_DATETIME_FORMAT", "TIME_FORMAT"]
