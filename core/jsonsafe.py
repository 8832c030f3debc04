"""JSON from strangers: size and nesting bounded before parsing, only real JSON accepted.

Python's parser recurses once per level: a body nested 1,000 deep raised RecursionError (a 500
over REST, a closed socket over WebSocket). `NaN` and `Infinity` are not JSON, but Python
reads and writes them: a `ref: NaN` was echoed back as a bare `NaN` no JSON client can read.
"""

import json
import re

MAX_DEPTH = 32
MAX_BYTES = 256 * 1024  # a WebSocket frame; REST bodies are bounded by MAX_REQUEST_BYTES

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class BadJSON(ValueError):
    """Not JSON we take: `code` says why (`parse_error`, `too_deep`, `too_large`)."""

    def __init__(self, detail: str, code: str = "parse_error"):
        super().__init__(detail)
        self.detail, self.code = detail, code


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, strings left out (no parsing)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub('""', text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _not_a_number(name: str):
    raise BadJSON(f"{name} is not a JSON value.")


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES):
    """Parse JSON, refusing more than `max_bytes`, nesting deeper than `max_depth`, NaN and
    Infinity, and anything that is not UTF-8."""
    if len(data) > max_bytes:
        raise BadJSON(f"JSON is at most {max_bytes} bytes.", "too_large")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadJSON("JSON must be UTF-8.") from None
    if nesting_depth(data) > max_depth:
        raise BadJSON(f"JSON nests at most {max_depth} levels deep.", "too_deep")
    try:
        return json.loads(data, parse_constant=_not_a_number)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, BadJSON):
            raise
        raise BadJSON(f"JSON parse error: {exc}") from None


def dumps(value) -> str:
    """JSON out: only real JSON (never NaN or Infinity)."""
    return json.dumps(value, default=str, allow_nan=False)
