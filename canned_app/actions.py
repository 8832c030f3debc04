"""Canned responses: create, change, delete. Staff manage the shared ones; an agent its own."""

import re

from django.db import IntegrityError, transaction

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.text import clean_body, clean_name

from .models import SHORTCUT_PATTERN, CannedResponse

FIELDS = ("shortcut", "title", "body")


def _clean(changes: dict) -> dict:
    out = {}
    if "shortcut" in changes:
        shortcut = changes["shortcut"]
        if not isinstance(shortcut, str) or not re.fullmatch(SHORTCUT_PATTERN, shortcut):
            raise Invalid("shortcut is 1-32 of a-z, 0-9, _ and -.", field="shortcut")
        out["shortcut"] = shortcut
    if "title" in changes:
        out["title"] = clean_name(changes["title"], field="title")
    if "body" in changes:
        out["body"] = clean_body(changes["body"])
    return out


def _may_manage(canned: CannedResponse, agent, staff: bool, any_owner: bool) -> None:
    if any_owner:  # the admin site: staff with the model's permissions
        return
    if canned.owner_id is None:
        if not staff:
            raise Forbidden("Only staff change shared canned responses.", code="not_yours")
    elif agent is None or canned.owner_id != agent.pk:
        raise NotFound("No such canned response.")


def canned_owner(*, agent, staff: bool):
    """Whose a new one is: staff make shared ones (None), an agent its own."""
    if staff:
        return None
    if agent is None:
        raise Forbidden("Only agents and staff have canned responses.", code="not_an_agent")
    return agent


def canned_create(*, owner, shortcut, title, body) -> CannedResponse:
    """A canned response of `owner` (an agent), or a shared one (None)."""
    values = _clean({"shortcut": shortcut, "title": title, "body": body})
    try:
        with transaction.atomic():
            return CannedResponse.objects.create(owner=owner, **values)
    except IntegrityError:
        raise _taken(values["shortcut"]) from None


def canned_update(
    *, canned_id, agent, staff: bool, any_owner: bool = False, **changes
) -> CannedResponse:
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise Invalid(f"Unknown field: {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    values = _clean(changes)
    try:
        with transaction.atomic():
            canned = _lock(canned_id)
            _may_manage(canned, agent, staff, any_owner)
            for name, value in values.items():
                setattr(canned, name, value)
            canned.save(update_fields=[*values, "updated_at"])
    except IntegrityError:  # only a shortcut can clash
        raise _taken(values["shortcut"]) from None
    return canned


def canned_delete(*, canned_id, agent, staff: bool, any_owner: bool = False) -> None:
    with transaction.atomic():
        canned = _lock(canned_id)
        _may_manage(canned, agent, staff, any_owner)
        canned.delete()


def _taken(shortcut: str) -> Conflict:
    return Conflict(f"/{shortcut} is taken.", code="shortcut_taken", field="shortcut")


def _lock(canned_id) -> CannedResponse:
    try:
        return CannedResponse.objects.select_for_update().get(pk=int(str(canned_id)))
    except (CannedResponse.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("No such canned response.") from None
