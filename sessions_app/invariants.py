"""Read-only checks of the desk's invariants, used by check_invariants and the load benchmarks."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Q
from django.utils import timezone

from agents_app.selectors import agent_capacity, agents_with_load, service_settings
from skills_app.models import SkillGroup

from .models import ChatSession, Message, Offer, OfferOutcome, SessionState
from .routing.lock import RoutingSettings
from .routing.pool import Pool


@dataclass(frozen=True)
class Violation:
    """One broken rule: which rule, about what, and the figures that show it."""

    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


def agents_over_capacity() -> list[Violation]:
    """Agents whose standing offers plus active sessions exceed their capacity."""
    cfg = service_settings()
    found = []
    for agent in agents_with_load():
        load = agent.offer_load + agent.active_load
        capacity = agent_capacity(agent, cfg)
        if load > capacity:
            found.append(
                Violation(
                    "agent_over_capacity",
                    f"agent {agent.pk}",
                    f"load {load} ({agent.offer_load} offers + {agent.active_load} active) "
                    f"> capacity {capacity}",
                )
            )
    return found


def sessions_without_agent() -> list[Violation]:
    """Active sessions with no agent, and offered sessions with no standing offer."""
    found = [
        Violation("active_without_agent", f"session {pk}", "state active, agent is null")
        for pk in ChatSession.objects.filter(
            state=SessionState.ACTIVE, agent__isnull=True
        ).values_list("pk", flat=True)
    ]
    standing = Offer.objects.filter(outcome=OfferOutcome.STANDING).values("session_id")
    found += [
        Violation("offered_without_offer", f"session {pk}", "state offered, no standing offer")
        for pk in ChatSession.objects.filter(state=SessionState.OFFERED)
        .exclude(pk__in=standing)
        .values_list("pk", flat=True)
    ]
    found += [
        Violation(
            "standing_offer_on_unoffered_session",
            f"session {row['session_id']}",
            f"offer {row['pk']} stands while the session is {row['session__state']}",
        )
        for row in Offer.objects.filter(outcome=OfferOutcome.STANDING)
        .exclude(session__state=SessionState.OFFERED)
        .values("pk", "session_id", "session__state")
    ]
    return found


def sessions_with_two_standing_offers() -> list[Violation]:
    rows = (
        Offer.objects.filter(outcome=OfferOutcome.STANDING)
        .values("session_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    return [
        Violation("two_standing_offers", f"session {row['session_id']}", f"{row['n']} offers")
        for row in rows
    ]


def overdue_offers(*, now: datetime, grace: timedelta) -> list[Violation]:
    """Standing offers past their deadline by more than `grace` (the sweep should have run)."""
    rows = Offer.objects.filter(outcome=OfferOutcome.STANDING, expires_at__lt=now - grace).values(
        "pk", "session_id", "expires_at"
    )
    return [
        Violation(
            "offer_long_past_due",
            f"session {row['session_id']}",
            f"offer {row['pk']} due {(now - row['expires_at']).total_seconds():.1f}s ago",
        )
        for row in rows
    ]


def overdue_idle_timers(*, now: datetime, grace: timedelta) -> list[Violation]:
    """Active sessions whose idle deadline passed more than `grace` ago."""
    rows = ChatSession.objects.filter(
        state=SessionState.ACTIVE, idle_deadline__lt=now - grace
    ).values("pk", "idle_deadline")
    return [
        Violation(
            "idle_timer_long_past_due",
            f"session {row['pk']}",
            f"idle deadline passed {(now - row['idle_deadline']).total_seconds():.1f}s ago",
        )
        for row in rows
    ]


def queued_while_agent_idles(*, now: datetime, grace: timedelta) -> list[Violation]:
    """A session waited longer than `grace` while an agent who may take it had room: an online
    member of its group (or of its overflow group, once that applies)."""
    cfg = service_settings()
    old = ChatSession.objects.filter(state=SessionState.QUEUED, created_at__lt=now - grace)
    found = []
    for group in SkillGroup.objects.filter(pk__in=old.values("skill_group_id")):
        waiting = list(old.filter(skill_group=group).order_by("created_at", "pk"))
        overflowed = [s for s in waiting if s.overflowed_at is not None]
        overflow = group.overflow_group_id if overflowed else None
        pool = Pool.load(RoutingSettings.of(cfg), group.pk, overflow_group_id=overflow, lock=False)
        for session in (waiting[0], *overflowed[:1]):
            free, _ = pool.eligible(session, set())
            if free:
                found.append(
                    Violation(
                        "queued_while_agent_idles",
                        f"session {session.pk}",
                        f"{len(waiting)} session(s) of group {group.pk} queued while agent(s) "
                        f"{', '.join(str(a.pk) for a in free[:5])} have room",
                    )
                )
                break
    return found


def ended_sessions_incomplete() -> list[Violation]:
    rows = (
        ChatSession.objects.filter(state=SessionState.ENDED)
        .filter(Q(ended_at__isnull=True) | Q(end_reason=""))
        .values("pk", "ended_at", "end_reason")
    )
    return [
        Violation(
            "ended_without_reason_or_time",
            f"session {row['pk']}",
            f"ended_at={row['ended_at']} end_reason={row['end_reason']!r}",
        )
        for row in rows
    ]


def messages_after_end(*, system_slack: timedelta = timedelta(seconds=1)) -> list[Violation]:
    """Messages written after their session ended.

    The idle-end notice is written in the same transaction as the end, a few microseconds
    after the end time was taken, so system messages get `system_slack`.
    """
    late = Message.objects.filter(
        session__state=SessionState.ENDED, created_at__gt=F("session__ended_at")
    ).exclude(sender="system", created_at__lte=F("session__ended_at") + system_slack)
    return [
        Violation(
            "message_after_end",
            f"session {row['session_id']}",
            f"{row['sender']} message {row['pk']} at {row['created_at']:%H:%M:%S.%f} "
            f"after the end at {row['session__ended_at']:%H:%M:%S.%f}",
        )
        for row in late.values("pk", "session_id", "sender", "created_at", "session__ended_at")
    ]


def check_all(*, now: datetime | None = None, grace_seconds: float = 5.0) -> list[Violation]:
    """Every invariant; `grace_seconds` is how late a timer or a queued session may be."""
    now = now or timezone.now()
    grace = timedelta(seconds=grace_seconds)
    return [
        *agents_over_capacity(),
        *sessions_without_agent(),
        *sessions_with_two_standing_offers(),
        *overdue_offers(now=now, grace=grace),
        *overdue_idle_timers(now=now, grace=grace),
        *queued_while_agent_idles(now=now, grace=grace),
        *ended_sessions_incomplete(),
        *messages_after_end(),
    ]
