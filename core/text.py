"""Checks of text people write (names, message bodies): the same rules for every way in
(REST, WebSocket, admin, actions).

Refused: NUL (PostgreSQL cannot store it) and lone surrogates (not UTF-8). Removed: the
bidirectional controls, with which "\u202egnp.exe" shows as "exe.png". Refused as empty:
text made only of spaces and invisible characters (zero-width spaces and joiners, the BOM,
soft hyphens), which renders blank; and in a name, invisible characters are removed, so
"Al\u200bice" cannot pass for "Alice".
"""

import re

from .errors import Invalid

MAX_BODY = 4000
MAX_NAME = 100

# Embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI) and the
# implicit marks (LRM, RLM, ALM).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Characters that draw nothing: zero-width space, non-joiner, joiner, word joiner, the BOM,
# the soft hyphen, and the invisible operators.
INVISIBLE = re.compile("[\u200b-\u200d\u2060-\u2064\ufeff\u00ad]")
SURROGATE = re.compile("[\ud800-\udfff]")


def _checked(value: object, what: str, field: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a string.", field=field)
    if "\x00" in value:
        raise Invalid(f"{what} must not contain NUL characters.", field=field)
    if SURROGATE.search(value):
        raise Invalid(f"{what} must not contain surrogate characters.", field=field)
    return BIDI_CONTROLS.sub("", value)


def clean_body(body: object, *, field: str = "body") -> str:
    """A message body: a string, 1-4000 characters once trimmed, not blank to the eye."""
    text = _checked(body, "A message body", field).strip()
    if not INVISIBLE.sub("", text).strip():
        raise Invalid("A message body must not be empty.", field=field)
    if len(text) > MAX_BODY:
        raise Invalid(f"A message body is at most {MAX_BODY} characters.", field=field)
    return text


def clean_name(name: object, *, field: str = "customer_name") -> str:
    """A person's name: a string, 1-100 characters once trimmed, with nothing invisible."""
    text = INVISIBLE.sub("", _checked(name if name is not None else "", field, field)).strip()
    if not text:
        raise Invalid(f"{field} must not be empty.", field=field)
    if len(text) > MAX_NAME:
        raise Invalid(f"{field} is at most {MAX_NAME} characters.", field=field)
    return text


def clean_note(note: object, *, field: str = "note", limit: int = 500) -> str:
    """A short optional note (a transfer's): a string of at most `limit` characters, trimmed;
    None or blank is the empty note."""
    if note is None:
        return ""
    text = _checked(note, field, field).strip()
    if len(text) > limit:
        raise Invalid(f"{field} is at most {limit} characters.", field=field)
    return text


def fill_in(template: str, **values: str) -> str:
    """A notice with its `{name}` placeholders replaced; anything else in braces stays as
    written (an admin's text is not a format string)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY, MAX_ATTRIBUTE_VALUE = 20, 50, 200


def clean_email(email: object, *, field: str = "email") -> str:
    """An optional email address: "" when absent, else a valid address (lower-cased domain)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if email in (None, ""):
        return ""
    text = _checked(email, field, field).strip()
    try:
        validate_email(text)
    except ValidationError:
        raise Invalid("email is not a valid address.", field=field) from None
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_attributes(attributes: object, *, field: str = "attributes") -> dict:
    """What an embedding site says about its customer: an object of at most 20 string keys,
    each value a string, number or boolean of at most 200 characters."""
    if attributes in (None, ""):
        return {}
    if not isinstance(attributes, dict):
        raise Invalid("attributes must be an object.", field=field)
    if len(attributes) > MAX_ATTRIBUTES:
        raise Invalid(f"attributes has at most {MAX_ATTRIBUTES} keys.", field=field)
    cleaned = {}
    for key, value in attributes.items():
        key = _checked(key, "An attribute name", field).strip()
        if not key or len(key) > MAX_ATTRIBUTE_KEY:
            raise Invalid(f"Attribute names are 1-{MAX_ATTRIBUTE_KEY} characters.", field=field)
        if isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int | float):
            if value != value or value in (float("inf"), float("-inf")):
                raise Invalid(f"attributes.{key} must be a finite number.", field=field)
        elif isinstance(value, str):
            value = _checked(value, f"attributes.{key}", field)
        else:
            raise Invalid(f"attributes.{key} must be a string, number or boolean.", field=field)
        if len(str(value)) > MAX_ATTRIBUTE_VALUE:
            raise Invalid(
                f"attributes.{key} is at most {MAX_ATTRIBUTE_VALUE} characters.", field=field
            )
        cleaned[key] = value
    return cleaned
