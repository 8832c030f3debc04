"""Checks of text people write (names, message bodies): the same rules for every way in."""

from .errors import Invalid

MAX_BODY = 4000
MAX_NAME = 100


def clean_body(body: object, *, field: str = "body") -> str:
    """A message body: a string, 1-4000 characters once trimmed."""
    if not isinstance(body, str):
        raise Invalid("A message body must be a string.", field=field)
    text = body.strip()
    if not text:
        raise Invalid("A message body must not be empty.", field=field)
    if len(text) > MAX_BODY:
        raise Invalid(f"A message body is at most {MAX_BODY} characters.", field=field)
    return text


def clean_name(name: object, *, field: str = "customer_name") -> str:
    """A person's name: a string, 1-100 characters once trimmed."""
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        raise Invalid(f"{field} must not be empty.", field=field)
    if len(text) > MAX_NAME:
        raise Invalid(f"{field} is at most {MAX_NAME} characters.", field=field)
    return text
