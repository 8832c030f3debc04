"""Reads of canned responses: what a caller may see, and their JSON shape."""

from django.db.models import Q, QuerySet

from .models import CannedResponse


def canned_visible_to(agent, *, staff: bool) -> QuerySet:
    """The shared ones and the caller's own (an agent's, or a staff user's if also an agent)."""
    own = Q(owner=agent) if agent is not None else Q(pk__in=[])
    return CannedResponse.objects.filter(Q(owner__isnull=True) | own).order_by("shortcut", "pk")


def canned_dict(canned: CannedResponse) -> dict:
    return {
        "id": str(canned.pk),
        "shortcut": canned.shortcut,
        "title": canned.title,
        "body": canned.body,
        "owner_id": None if canned.owner_id is None else str(canned.owner_id),
    }
