"""The wallboard's figures: the desk as it is now, per skill group and in total.

A handful of grouped reads over partial indexes that hold only the open chats, today's, and the
last half hour's: its cost follows the size of the floor (agents, waiting chats), never the
desk's history. The REST snapshot and the live wallboard (supervision_app/live.py) both build it
here; the wallboard builds it at most once a second for every supervisor watching.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Min, Q
from django.utils import timezone

from agents_app.models import Agent, AgentStatus
from agents_app.selectors import loads_by_agent, service_settings
from sessions_app.models import (
    ChatSession,
    EndReason,
    Offer,
    OfferKind,
    OfferOutcome,
    SessionState,
)
from sessions_app.selectors import iso
from skills_app.models import SkillGroup, SkillGroupMember

from .reports import day_span

RECENT = timedelta(minutes=30)  # "missed offers and abandoned chats in the last 30 minutes"
WAITING = (SessionState.QUEUED, SessionState.OFFERED)
OPEN = (SessionState.QUEUED, SessionState.OFFERED, SessionState.ACTIVE)
WAITING_LISTED = 1000  # the longest-waiting chats listed; the counts cover them all
ACTIVE_LISTED = 2000  # the chats being served, longest first (an extension: open one to watch)
STATUS_ORDER = {AgentStatus.ONLINE: 0, AgentStatus.AWAY: 1, AgentStatus.OFFLINE: 2}


def start_of_today(now: datetime, zone: str) -> datetime:
    """The start of the current day in the settings' time zone (as the reports' days start)."""
    local_zone = ZoneInfo(zone)
    return day_span(now.astimezone(local_zone).date(), local_zone)[0]


@dataclass
class _Tally:
    """One group's (or the desk's) figures, added up row by row."""

    queued: int = 0
    offered: int = 0
    active: int = 0
    oldest_waiting: datetime | None = None
    served_today: int = 0
    within_target: int = 0
    missed_offers_30m: int = 0
    abandoned_30m: int = 0

    def figures(self, now: datetime) -> dict:
        oldest = self.oldest_waiting
        return {
            "queued": self.queued,
            "offered": self.offered,
            "active": self.active,
            "longest_wait_seconds": None if oldest is None else _seconds(now - oldest),
            "service_level": round(self.within_target / self.served_today, 4)
            if self.served_today
            else None,
            "missed_offers_30m": self.missed_offers_30m,
            "abandoned_30m": self.abandoned_30m,
        }


def _seconds(delta: timedelta) -> float:
    return round(max(delta.total_seconds(), 0.0), 1)


def build_snapshot(now: datetime | None = None) -> dict:
    """The snapshot of the contract: totals, groups, agents, waiting (as of `now`)."""
    now = now or timezone.now()
    cfg = service_settings()
    groups = list(SkillGroup.objects.order_by("-is_default", "name").values("id", "name"))
    totals, per_group = _Tally(), {g["id"]: _Tally() for g in groups}

    def tallies(group_id) -> list[_Tally]:  # a row adds to its group's (if any) and the totals
        return [totals] if group_id not in per_group else [totals, per_group[group_id]]

    open_chats = (
        ChatSession.objects.filter(state__in=OPEN)
        .values("skill_group_id", "state")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    for row in open_chats:
        for tally in tallies(row["skill_group_id"]):
            setattr(tally, row["state"], getattr(tally, row["state"]) + row["n"])
            if row["state"] in WAITING:
                oldest = tally.oldest_waiting
                tally.oldest_waiting = (
                    row["oldest"] if oldest is None else min(oldest, row["oldest"])
                )

    # Service level: of today's chats that were served, the share served within the target.
    target = timedelta(seconds=cfg.service_level_seconds)
    served = (
        ChatSession.objects.filter(
            created_at__gte=start_of_today(now, cfg.timezone),
            created_at__lte=now,
            accepted_at__isnull=False,
        )
        .values("skill_group_id")
        .annotate(
            n=Count("pk"),
            within=Count("pk", filter=Q(accepted_at__lte=F("created_at") + target)),
        )
        .order_by()
    )
    for row in served:
        for tally in tallies(row["skill_group_id"]):
            tally.served_today += row["n"]
            tally.within_target += row["within"]

    since = now - RECENT
    missed = (
        Offer.objects.filter(
            outcome=OfferOutcome.EXPIRED, kind=OfferKind.ROUTING, resolved_at__gte=since
        )
        .values("session__skill_group_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in missed:
        for tally in tallies(row["session__skill_group_id"]):
            tally.missed_offers_30m += row["n"]
    abandoned = (
        ChatSession.objects.filter(
            accepted_at__isnull=True, end_reason=EndReason.CUSTOMER_ENDED, ended_at__gte=since
        )
        .values("skill_group_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in abandoned:
        for tally in tallies(row["skill_group_id"]):
            tally.abandoned_30m += row["n"]

    waiting = [
        {
            "session_id": str(row["id"]),
            "customer_name": row["customer_name"],
            "skill_group_id": None if row["skill_group_id"] is None else str(row["skill_group_id"]),
            "state": row["state"],
            "waiting_seconds": _seconds(now - row["created_at"]),
        }
        for row in ChatSession.objects.filter(state__in=WAITING)
        .order_by("created_at")
        .values("id", "customer_name", "skill_group_id", "state", "created_at")[:WAITING_LISTED]
    ]
    active = [
        {
            "session_id": str(row["id"]),
            "customer_name": row["customer_name"],
            "skill_group_id": None if row["skill_group_id"] is None else str(row["skill_group_id"]),
            "agent_id": str(row["agent_id"]),
            "serving_seconds": _seconds(now - row["accepted_at"]),
        }
        for row in ChatSession.objects.filter(state=SessionState.ACTIVE)
        .order_by("accepted_at")
        .values("id", "customer_name", "skill_group_id", "agent_id", "accepted_at")[:ACTIVE_LISTED]
    ]
    return {
        "generated_at": iso(now),
        "service_level_seconds": cfg.service_level_seconds,
        "totals": totals.figures(now),
        "groups": [
            {"id": str(g["id"]), "name": g["name"], **per_group[g["id"]].figures(now)}
            for g in groups
        ],
        "agents": _agents(cfg.default_max_sessions),
        "waiting": waiting,
        "active": active,
    }


def _agents(default_capacity: int) -> list[dict]:
    """Every agent: status, why, since when, load (active chats and standing offers, as routing
    counts it) and capacity, and the groups they serve: four reads, whatever the number."""
    load = loads_by_agent()
    groups: dict = {}
    for agent_id, group_id in SkillGroupMember.objects.order_by("group_id").values_list(
        "agent_id", "group_id"
    ):
        groups.setdefault(agent_id, []).append(str(group_id))
    rows = Agent.objects.values(
        "id",
        "display_name",
        "user__username",
        "status",
        "status_reason",
        "status_changed_at",
        "created_at",
        "max_sessions",
    )
    agents = [
        {
            "id": str(row["id"]),
            "display_name": row["display_name"] or row["user__username"],
            "status": row["status"],
            "status_reason": row["status_reason"] or None,
            "status_since": iso(row["status_changed_at"] or row["created_at"]),
            "load": load.get(row["id"], 0),
            "capacity": row["max_sessions"] or default_capacity,
            "skill_groups": groups.get(row["id"], []),
        }
        for row in rows
    ]
    agents.sort(key=lambda a: (STATUS_ORDER.get(a["status"], 3), a["display_name"].lower()))
    return agents
