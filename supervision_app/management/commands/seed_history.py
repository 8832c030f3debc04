"""`manage.py seed_history`: months of believable past chats, offers, ratings and agents'
status changes, written in bulk, so the reports have something to show and to be timed on."""

import hashlib
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from itertools import accumulate
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone

from agents_app.models import Agent, AgentStatus, ServiceMode
from agents_app.selectors import service_settings
from sessions_app.models import (
    ChatSession,
    EndReason,
    EventKind,
    Offer,
    OfferKind,
    OfferOutcome,
    Rating,
    SessionEvent,
    SessionState,
)
from skills_app.models import DEFAULT_PRIORITY, SkillGroup, SkillGroupMember
from skills_app.selectors import default_group
from supervision_app.models import ReportDay

BATCH = 5000  # rows per INSERT
CHUNK = 20_000  # sessions (with their offers and ratings) per transaction
PROGRESS_EVERY = 100_000
MIN_AGENTS = 10
SEED_PREFIX = "seed-agent-"
EXTRA_GROUPS = ("Billing", "Technical", "Sales")
OVERFLOW_AFTER = 60
RATING_SCALE = 5
# Without a queue timeout in the settings, a desk that had one: 10 minutes.
FALLBACK_QUEUE_TIMEOUT = 600

# The shape of demand in the desk's time zone: a weekday's share (Monday first) and an hour's.
WEEKDAY_WEIGHT = (1.0, 1.0, 0.97, 0.95, 0.9, 0.45, 0.35)
HOUR_WEIGHT = (
    0.15, 0.1, 0.07, 0.06, 0.07, 0.12, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6,
    1.3, 1.4, 1.55, 1.5, 1.35, 1.1, 0.8, 0.65, 0.55, 0.45, 0.35, 0.22,
)  # fmt: skip
# When shifts start (local hour: weight); every shift is 8 hours, so the desk is staffed from
# about 06:00 to 22:00 and the night's few chats are mostly abandoned or time out.
SHIFT_STARTS = {6: 1, 7: 2, 8: 4, 9: 4, 10: 3, 11: 2, 12: 2, 13: 1, 14: 2}
SHIFT_HOURS = 8
# A day's roster follows its demand (a desk staffs for its chats, not for its headcount):
# enough agents for this many chats each, and never fewer than MIN_ROSTER when that many can.
CHATS_PER_SHIFT = 20
MIN_ROSTER = 12
BREAK_REASONS = ("lunch", "lunch", "break", "meeting", "training", "", "")
OFF_REASONS = ("", "", "", "end of shift")

# What happens to a chat when someone in its group is on shift, and when nobody is.
SERVED, ABANDONED_STAFFED = 0.87, 0.09  # the rest time out in the queue
ABANDONED_UNSTAFFED = 0.65
END_REASONS = (EndReason.AGENT_ENDED, EndReason.CUSTOMER_ENDED, EndReason.CUSTOMER_IDLE_TIMEOUT)
END_CUMULATIVE = list(accumulate((55, 33, 12)))
SCORES, SCORE_CUMULATIVE = (1, 2, 3, 4, 5), list(accumulate((6, 5, 9, 25, 55)))

FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jonas",
    "Kenji", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wei", "Xin", "Yara", "Zoe", "Li", "Mei", "Hao", "Jing",
    "Aisha", "Bruno", "Carla", "Dmitri", "Eva", "Felix", "Gita", "Hana", "Ivan", "Julia",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Müller", "García", "Rossi", "Dubois", "Kowalski", "Novak", "Silva", "Jensen",
    "Chen", "Wang", "Zhang", "Liu", "Tanaka", "Kim", "Patel", "Khan", "Okafor", "Mensah",
    "Johansson", "Nielsen", "Costa", "Ivanova", "Brown", "Taylor", "Martin", "Lopez",
    "Nguyen", "Haddad", "Cohen",
)  # fmt: skip
PLANS = ("free", "pro", "business")
COMMENTS = ("Quick and helpful, thanks!", "Solved my problem.", "Took a while.",
            "Very friendly.", "Not what I hoped for.", "Great service.")  # fmt: skip


@contextmanager
def explicit_created_at(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let bulk_create keep the timestamps given: an `auto_now_add` field stamps the present
    on every row it inserts, whatever the object holds. Restored on the way out, error or
    not; only for a command's own process, which runs nothing else meanwhile."""
    fields = [
        f
        for model in model_classes
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now_add", False)
    ]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now_add = True


@dataclass
class Worker:
    """An agent's habits: which groups it serves, when its shift starts, its days off; no
    shift before it joined."""

    agent_id: int
    groups: list[int]
    start_hour: int
    days_off: frozenset[int]
    joined: float


@dataclass
class Desk:
    """What the history is drawn from: the settings that shape it, and who serves where."""

    tz: ZoneInfo
    manual: bool
    accept_timeout: int
    idle_timeout: int
    queue_timeout: int
    groups: list[int]
    group_cumulative: list[float]
    overflow: dict[int, tuple[int, int]]  # group: (its overflow group, after seconds)
    workers: list[Worker]


@dataclass
class Tally:
    """What one run wrote, for its closing line."""

    sessions: int = 0
    served: int = 0
    abandoned: int = 0
    queue_timeouts: int = 0
    offers: int = 0
    missed: int = 0
    transfers: int = 0
    ratings: int = 0
    events: int = 0
    agents_created: int = 0


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class History:
    """Writes the history day by day in the desk's time zone: first the day's shifts (status
    events, and who is on duty each hour), then the chats of each hour, served only by
    agents on duty in that hour, in the chat's group."""

    def __init__(self, desk: Desk, rng: random.Random, *, now: float, days: int, out) -> None:
        self.desk, self.rng, self.now, self.out = desk, rng, now, out
        self.start = now - days * 86400
        self.tally = Tally()
        self.sessions: list[ChatSession] = []
        self.offers: list[Offer] = []
        self.ratings: list[Rating] = []
        self.events: list[SessionEvent] = []
        # Each agent's last status in this history: (when, status, reason).
        self.last_status: dict[int, tuple[float, str, str]] = {}
        self.written = 0
        self.began = time.monotonic()

    # --- the calendar -----------------------------------------------------------------------

    def _hour_bounds(self, day: date) -> list[float]:
        """The 25 instants that bound the day's local hours (a DST change makes one hour
        empty or two hours long)."""
        tz = self.desk.tz
        bounds = [datetime.combine(day, clock(h), tzinfo=tz).timestamp() for h in range(24)]
        following = datetime.combine(day + timedelta(days=1), clock(0), tzinfo=tz)
        return [*bounds, following.timestamp()]

    def _slots(self) -> list[tuple[date, int, float, float, float]]:
        """Every local hour of the window, clipped to it: (day, hour, from, to, demand)."""
        slots = []
        day = datetime.fromtimestamp(self.start, self.desk.tz).date()
        last = datetime.fromtimestamp(self.now, self.desk.tz).date()
        while day <= last:
            bounds = self._hour_bounds(day)
            for hour in range(24):
                low, high = max(bounds[hour], self.start), min(bounds[hour + 1], self.now)
                if high > low:
                    weight = WEEKDAY_WEIGHT[day.weekday()] * HOUR_WEIGHT[hour]
                    slots.append((day, hour, low, high, weight * (high - low) / 3600))
            day += timedelta(days=1)
        return slots

    def run(self, count: int) -> Tally:
        slots = self._slots()
        per_slot = [0] * len(slots)
        if slots and count:
            weights = [s[4] for s in slots]
            for index in self.rng.choices(range(len(slots)), weights=weights, k=count):
                per_slot[index] += 1
        per_day: dict[date, int] = defaultdict(int)
        for (day, *_), n in zip(slots, per_slot, strict=True):
            per_day[day] += n
        on_duty: list[dict[int, list[int]]] = []
        current_day = None
        for (day, hour, low, high, _), n in zip(slots, per_slot, strict=True):
            if day != current_day:
                current_day = day
                on_duty = self._shifts(day, per_day[day])
                if len(self.sessions) >= CHUNK or len(self.events) >= CHUNK:
                    self._flush()
            for created in sorted(low + (high - low) * self.rng.random() for _ in range(n)):
                self._session(created, on_duty[hour])
                if len(self.sessions) >= CHUNK:
                    self._flush()
        self._flush()
        return self.tally

    # --- agents' shifts ---------------------------------------------------------------------

    def _shifts(self, day: date, chats: int) -> list[dict[int, list[int]]]:
        """The day's shifts, sized for its `chats`, as status events; returns, per local hour,
        the agents on duty for all of it by group (an hour with a break in it is off duty)."""
        rng = self.rng
        bounds = self._hour_bounds(day)
        on_duty: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(24)]
        weekday = day.weekday()
        # Not on a day off, nor ill or on leave.
        available = [
            w for w in self.desk.workers if weekday not in w.days_off and rng.random() >= 0.04
        ]
        wanted = max(MIN_ROSTER, math.ceil(chats / CHATS_PER_SHIFT))
        if len(available) > wanted:
            available = rng.sample(available, wanted)
        for worker in available:
            first = worker.start_hour + (rng.choice((-1, 1)) if rng.random() < 0.2 else 0)
            if bounds[first] - 600 < worker.joined:
                continue
            break_hour = first + rng.choice((3, 4)) if rng.random() < 0.85 else None
            agent = worker.agent_id
            # Online a few minutes before the hour, so the whole first hour is on duty.
            self._status(agent, bounds[first] - rng.uniform(0, 600), AgentStatus.ONLINE)
            if break_hour is not None:
                away = bounds[break_hour] + rng.uniform(0, 300)
                reason = rng.choice(BREAK_REASONS)
                self._status(agent, away, AgentStatus.AWAY, reason)
                self._status(agent, away + rng.uniform(900, 2700), AgentStatus.ONLINE)
            off = bounds[first + SHIFT_HOURS] + rng.uniform(0, 1200)
            self._status(agent, off, AgentStatus.OFFLINE, rng.choice(OFF_REASONS))
            for hour in range(first, first + SHIFT_HOURS):
                if hour != break_hour:
                    for group in worker.groups:
                        on_duty[hour][group].append(agent)
        return on_duty

    def _status(self, agent_id: int, at: float, status: str, reason: str = "") -> None:
        if at > self.now:
            return  # the rest of a shift still to come
        data = {"status": status, "reason": reason} if reason else {"status": status}
        self.events.append(
            SessionEvent(
                kind=EventKind.AGENT_STATUS_CHANGED,
                agent_id=agent_id,
                data=data,
                created_at=_at(at),
            )
        )
        if at >= self.last_status.get(agent_id, (-math.inf,))[0]:
            self.last_status[agent_id] = (at, status, reason)

    # --- chats ------------------------------------------------------------------------------

    def _other(self, candidates: list[int], besides: int) -> int | None:
        """Another agent on duty than `besides`, or None when it is alone."""
        if len(candidates) < 2:
            return None
        while True:
            other = self.rng.choice(candidates)
            if other != besides:
                return other

    def _session(self, created: float, on_duty: dict[int, list[int]]) -> None:
        """One chat opened at `created`: its fate, offers, agent and rating. Times are built as
        seconds from the opening, then the chat is moved earlier if it would end after now."""
        rng, desk = self.rng, self.desk
        group = rng.choices(desk.groups, cum_weights=desk.group_cumulative)[0]
        candidates, delay = on_duty.get(group, []), 0.0
        overflow = desk.overflow.get(group)
        if not candidates and overflow is not None:
            # Nobody of its own on duty: its overflow group's agents take it, once they may.
            candidates, delay = on_duty.get(overflow[0], []), float(overflow[1])
        roll = rng.random()
        # (agent, made, resolved, outcome, kind, from agent), seconds from `created`
        offers: list[tuple[int, float, float, str, str, int | None]] = []
        agent, accepted = None, None
        if candidates and roll < SERVED:
            agent, accepted, span, reason = self._served(candidates, offers, delay)
            self.tally.served += 1
        elif (candidates and roll < SERVED + ABANDONED_STAFFED) or (
            not candidates and roll < ABANDONED_UNSTAFFED
        ):
            span, reason = self._abandoned(candidates, offers, delay), EndReason.CUSTOMER_ENDED
            self.tally.abandoned += 1
        else:
            span = (desk.queue_timeout or FALLBACK_QUEUE_TIMEOUT) + rng.uniform(0, 3)
            reason = EndReason.QUEUE_TIMEOUT
            self.tally.queue_timeouts += 1
        if created + span > self.now:
            created = self.now - span - rng.uniform(1, 60)
        # The overflow moment is copied onto every chat of a group that has one; it applied
        # to those still waiting then.
        overflow_at = overflowed_at = None
        if overflow is not None:
            overflow_at = _at(created + overflow[1])
            waited = accepted if accepted is not None else span
            overflowed_at = overflow_at if waited > overflow[1] else None
        last_activity = span
        if reason == EndReason.CUSTOMER_IDLE_TIMEOUT:
            last_activity = span - desk.idle_timeout
        session_id = uuid.uuid4()
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{rng.randrange(100)}@example.com".lower()
        email = email.encode("ascii", "ignore").decode()  # no "ü" in an address
        email = email if rng.random() < 0.4 else ""
        attributes = {"plan": rng.choice(PLANS)} if rng.random() < 0.2 else {}
        secret = rng.getrandbits(256).to_bytes(32, "big")
        self.sessions.append(
            ChatSession(
                id=session_id,
                state=SessionState.ENDED,
                customer_name=f"{first} {last}",
                email=email,
                attributes=attributes,
                customer_token_hash=hashlib.sha256(secret).hexdigest(),
                agent_id=agent,
                skill_group_id=group,
                created_at=_at(created),
                accepted_at=_at(created + accepted) if accepted is not None else None,
                ended_at=_at(created + span),
                end_reason=reason,
                last_activity_at=_at(created + last_activity),
                language="zh-hans" if rng.random() < 0.15 else "en",
                overflow_at=overflow_at,
                overflowed_at=overflowed_at,
            )
        )
        timeout = desk.accept_timeout
        for offer_agent, made, resolved, outcome, kind, from_agent in offers:
            self.offers.append(
                Offer(
                    session_id=session_id,
                    agent_id=offer_agent,
                    created_at=_at(created + made),
                    expires_at=_at(created + made + timeout),
                    timeout_seconds=timeout,
                    outcome=outcome,
                    resolved_at=_at(created + resolved),
                    kind=kind,
                    from_agent_id=from_agent,
                )
            )
        self.tally.offers += len(offers)
        if agent is not None and rng.random() < 0.3:
            rated = created + span + _clamp(rng.lognormvariate(math.log(40), 1.0), 3, 3600)
            if rated <= self.now:
                self.ratings.append(
                    Rating(
                        session_id=session_id,
                        agent_id=agent,
                        score=rng.choices(SCORES, cum_weights=SCORE_CUMULATIVE)[0],
                        scale=RATING_SCALE,
                        comment=rng.choice(COMMENTS) if rng.random() < 0.15 else "",
                        created_at=_at(rated),
                    )
                )
                self.tally.ratings += 1
        self.tally.sessions += 1

    def _served(
        self, candidates: list[int], offers: list, delay: float
    ) -> tuple[int, float, float, str]:
        """A chat an agent took, routed `delay` seconds after it opened: (final agent,
        accepted after, ended after, end reason)."""
        rng, desk = self.rng, self.desk
        timeout = desk.accept_timeout
        serving = rng.choice(candidates)
        at = delay + rng.uniform(0.2, 1.5)  # routed as soon as it may be
        if rng.random() < 0.15:  # every agent of the group was full: a wait in line
            at += min(rng.expovariate(1 / 90), 1200)
        if desk.manual:
            roll = rng.random()
            for _ in range(2 if roll < 0.02 else 1 if roll < 0.14 else 0):
                other = self._other(candidates, serving)
                if other is None:
                    break
                if rng.random() < 0.7:  # nobody answered: the expiry tick, a little late
                    resolved, outcome = at + timeout + rng.uniform(0.01, 0.5), OfferOutcome.EXPIRED
                else:
                    resolved = at + rng.uniform(min(1.5, timeout / 2), timeout * 0.8)
                    outcome = OfferOutcome.DECLINED
                offers.append((other, at, resolved, outcome, OfferKind.ROUTING, None))
                self.tally.missed += 1
                at = resolved + rng.uniform(0.02, 0.3)
            react = min(rng.lognormvariate(math.log(6), 0.6), timeout * 0.9)
            offers.append((serving, at, at + react, OfferOutcome.ACCEPTED, OfferKind.ROUTING, None))
            at += react
        accepted = at
        handle = _clamp(rng.lognormvariate(math.log(420), 0.75), 45, 5400)
        reason = rng.choices(END_REASONS, cum_weights=END_CUMULATIVE)[0]
        if reason == EndReason.CUSTOMER_IDLE_TIMEOUT:
            handle = max(handle, desk.idle_timeout + rng.uniform(30, 300))
        agent = serving
        if rng.random() < 0.04:
            target = self._other(candidates, serving)
            if target is not None:
                moved = accepted + handle * rng.uniform(0.2, 0.6)
                answered = moved + min(rng.uniform(2, 15), timeout * 0.9)
                offers.append(
                    (target, moved, answered, OfferOutcome.ACCEPTED, OfferKind.TRANSFER, serving)
                )
                agent = target
                self.tally.transfers += 1
        return agent, accepted, accepted + handle, reason

    def _abandoned(self, candidates: list[int], offers: list, delay: float) -> float:
        """A customer who left before anyone took the chat; returns when. In manual mode it
        was sometimes being offered then (withdrawn) or had been, to nobody's answer."""
        rng, timeout = self.rng, self.desk.accept_timeout
        left = _clamp(rng.lognormvariate(math.log(75), 0.9), 5, 1800)
        made = delay + rng.uniform(0.2, 1.5)
        if self.desk.manual and candidates and rng.random() < 0.5 and made < left:
            other = rng.choice(candidates)
            if made + timeout < left:
                expired = made + timeout + rng.uniform(0.01, 0.5)
                offers.append((other, made, expired, OfferOutcome.EXPIRED, OfferKind.ROUTING, None))
                self.tally.missed += 1
            else:
                offers.append((other, made, left, OfferOutcome.WITHDRAWN, OfferKind.ROUTING, None))
        return left

    # --- writing ----------------------------------------------------------------------------

    def _flush(self) -> None:
        before = self.written
        with transaction.atomic():
            ChatSession.objects.bulk_create(self.sessions, batch_size=BATCH)
            Offer.objects.bulk_create(self.offers, batch_size=BATCH)
            Rating.objects.bulk_create(self.ratings, batch_size=BATCH)
            SessionEvent.objects.bulk_create(self.events, batch_size=BATCH)
        self.written = written = before + len(self.sessions)
        self.tally.events += len(self.events)
        self.sessions, self.offers, self.ratings, self.events = [], [], [], []
        if self.out is not None and written // PROGRESS_EVERY > before // PROGRESS_EVERY:
            took = time.monotonic() - self.began
            self.out.write(f"  {written:,} sessions written ({took:.1f} s)")

    def close_statuses(self, agents: dict[int, tuple[str, str]]) -> dict[int, float]:
        """End each agent's history where the agent is now: a last event, at now, where the
        shifts left it in another status. Returns each agent's last change."""
        last_change = {}
        for agent_id, (status, reason) in agents.items():
            at, last, _ = self.last_status.get(agent_id, (None, None, None))
            if at is not None and last != status:
                self._status(agent_id, self.now, status, reason)
                at = self.now
            if at is not None:
                last_change[agent_id] = at
        self._flush()
        return last_change


# --- the desk ---------------------------------------------------------------------------------


def _ensure_groups() -> list[SkillGroup]:
    """The desk's groups; a desk with only its default one gets three departments more,
    whose chats the default group's agents may take after a minute (as the demo desk's)."""
    general = default_group()
    if not SkillGroup.objects.exclude(pk=general.pk).exists():
        overflow = {"overflow_group": general, "overflow_after_seconds": OVERFLOW_AFTER}
        for name in EXTRA_GROUPS:
            SkillGroup.objects.get_or_create(name=name, defaults=overflow)
    return list(SkillGroup.objects.order_by("pk"))


def _ensure_agents(
    wanted: int, groups: list[SkillGroup], rng: random.Random, since: datetime
) -> list[Agent]:
    """Seeded agents until the desk has `wanted`: no usable password, offline, in the default
    group (as every new agent) and in one or two of the others."""
    missing = wanted - Agent.objects.count()
    if missing <= 0:
        return []
    User = get_user_model()
    taken = User.objects.filter(username__startswith=SEED_PREFIX).values_list("username", flat=True)
    numbers = [int(u[len(SEED_PREFIX) :]) for u in taken if u[len(SEED_PREFIX) :].isdigit()]
    first = max(numbers, default=0) + 1
    users = []
    for n in range(first, first + missing):
        user = User(username=f"{SEED_PREFIX}{n}", date_joined=since)
        user.set_unusable_password()
        users.append(user)
    users = User.objects.bulk_create(users, batch_size=BATCH)
    agents = [
        Agent(
            user=user,
            display_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            status=AgentStatus.OFFLINE,
            created_at=since,
        )
        for user in users
    ]
    with explicit_created_at(Agent):
        agents = Agent.objects.bulk_create(agents, batch_size=BATCH)
    general = next(g for g in groups if g.is_default)
    others = [g for g in groups if not g.is_default]
    members = []
    for agent in agents:
        members.append(SkillGroupMember(group=general, agent=agent, priority=DEFAULT_PRIORITY))
        picked = rng.sample(others, k=min(len(others), 2 if rng.random() < 0.3 else 1))
        members += [
            SkillGroupMember(group=g, agent=agent, priority=rng.randint(1, 5)) for g in picked
        ]
    SkillGroupMember.objects.bulk_create(members, batch_size=BATCH, ignore_conflicts=True)
    return agents


def _workers(rng: random.Random) -> list[Worker]:
    """Every agent in a group, with habits of its own."""
    groups_of: dict[int, list[int]] = defaultdict(list)
    memberships = SkillGroupMember.objects.order_by("agent_id", "group_id")
    for agent_id, group_id in memberships.values_list("agent_id", "group_id"):
        groups_of[agent_id].append(group_id)
    joined = dict(Agent.objects.values_list("pk", "created_at"))
    hours, weights = list(SHIFT_STARTS), list(SHIFT_STARTS.values())
    workers = []
    for agent_id, groups in groups_of.items():
        if rng.random() < 0.75:
            days_off = frozenset((5, 6))
        else:
            first = rng.randrange(7)
            days_off = frozenset((first, (first + 1) % 7))
        start = rng.choices(hours, weights=weights)[0]
        workers.append(Worker(agent_id, groups, start, days_off, joined[agent_id].timestamp()))
    return workers


def seed_history(
    *, sessions: int, days: int, agents: int | None = None, seed: int | None = None, out=None
) -> Tally:
    """Add `sessions` ended chats over the last `days` days (and the shifts behind them)."""
    rng = random.Random(seed)
    settings = service_settings()
    now = timezone.now()
    groups = _ensure_groups()
    since = now - timedelta(days=days + 1)
    created = _ensure_agents(MIN_AGENTS if agents is None else agents, groups, rng, since)
    general = next(g for g in groups if g.is_default)
    # The default group takes the most chats; the departments share the rest.
    share = 0.6 / (len(groups) - 1) if len(groups) > 1 else 0.0
    weights = [0.4 if g.pk == general.pk else share for g in groups] if share else [1.0]
    desk = Desk(
        tz=ZoneInfo(settings.timezone or "UTC"),
        manual=settings.service_mode == ServiceMode.MANUAL,
        accept_timeout=settings.accept_timeout_seconds,
        idle_timeout=settings.customer_idle_timeout_seconds,
        queue_timeout=settings.queue_timeout_seconds,
        groups=[g.pk for g in groups],
        group_cumulative=list(accumulate(weights)),
        overflow={
            g.pk: (g.overflow_group_id, g.overflow_after_seconds)
            for g in groups
            if g.overflow_group_id is not None
        },
        workers=_workers(rng),
    )
    history = History(desk, rng, now=now.timestamp(), days=days, out=out)
    with explicit_created_at(ChatSession, Offer, Rating, SessionEvent):
        tally = history.run(sessions)
        current = {
            pk: (status, reason)
            for pk, status, reason in Agent.objects.filter(
                pk__in=[w.agent_id for w in desk.workers]
            ).values_list("pk", "status", "status_reason")
        }
        last_change = history.close_statuses(current)
    for agent in created:
        agent.status_changed_at = _at(last_change[agent.pk]) if agent.pk in last_change else None
    Agent.objects.bulk_update(created, ["status_changed_at"], batch_size=BATCH)
    tally.agents_created = len(created)
    # The rows were written around the emitter, which drops the rollups of the days a change
    # touches: drop those of the window here, and the next rollup pass counts the new chats.
    ReportDay.objects.filter(ends_at__gt=now - timedelta(days=days)).delete()
    # Planner statistics for what was just written, as autovacuum keeps them on a desk that
    # has run a while: without them a report's plan is chosen for empty tables.
    with connection.cursor() as cursor:
        tables = [m._meta.db_table for m in (ChatSession, Offer, Rating, SessionEvent)]
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {', '.join(tables)}")
        else:  # SQLite's ANALYZE takes one table, or the whole database
            for table in tables:
                cursor.execute(f"ANALYZE {table}")
    return tally


class Command(BaseCommand):
    help = (
        "Add realistic past history (ended chats, offers, transfers, ratings, agents' status "
        "changes) over the last days, written in bulk; for the reports and their bench."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sessions", type=int, default=10_000, help="chats to add")
        parser.add_argument("--days", type=int, default=90, help="over the last DAYS days")
        parser.add_argument(
            "--agents",
            type=int,
            default=None,
            help=f"seed agents until the desk has this many (default {MIN_AGENTS})",
        )
        parser.add_argument("--seed", type=int, default=None, help="for a reproducible shape")
        parser.add_argument("--quiet", action="store_true", help="print nothing")

    def handle(self, *args, sessions: int, days: int, agents, seed, quiet: bool, **options):
        if sessions < 0:
            raise CommandError("--sessions cannot be negative.")
        if days < 1:
            raise CommandError("--days is at least 1.")
        if agents is not None and agents < 1:
            raise CommandError("--agents is at least 1.")
        began = time.monotonic()
        tally = seed_history(
            sessions=sessions,
            days=days,
            agents=agents,
            seed=seed,
            out=None if quiet else self.stdout,
        )
        took = time.monotonic() - began
        if quiet:
            return
        rate = tally.sessions / took if took else 0.0
        self.stdout.write(
            f"seeded {tally.sessions:,} sessions over {days} days in {took:.1f} s "
            f"({rate:,.0f}/s): {tally.served:,} served, {tally.abandoned:,} abandoned, "
            f"{tally.queue_timeouts:,} queue timeouts; {tally.offers:,} offers "
            f"({tally.missed:,} missed, {tally.transfers:,} transfers), {tally.ratings:,} "
            f"ratings, {tally.events:,} status events; {tally.agents_created} agents created"
        )
