"""Chat sessions, the offers made for them, their messages and their audit trail."""

import uuid

from django.db import models
from django.db.models import Q


class SessionState(models.TextChoices):
    QUEUED = "queued", "Queued"
    OFFERED = "offered", "Offered"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class EndReason(models.TextChoices):
    AGENT_ENDED = "agent_ended", "Agent ended"
    CUSTOMER_ENDED = "customer_ended", "Customer left"
    CUSTOMER_IDLE_TIMEOUT = "customer_idle_timeout", "Customer idle timeout"
    STAFF_ENDED = "staff_ended", "Staff ended"
    QUEUE_TIMEOUT = "queue_timeout", "Nobody answered in time"


class ChatSession(models.Model):
    """One conversation between a customer and at most one agent at a time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = models.CharField(
        max_length=10, choices=SessionState.choices, default=SessionState.QUEUED
    )
    customer_name = models.CharField(max_length=100)
    # What the customer told us about themselves (optional): a returning customer's earlier
    # chats are found by email; attributes are the embedding site's (plan, order number...).
    email = models.EmailField(blank=True, db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    # sha256 of the customer's secret; the secret itself is never stored.
    customer_token_hash = models.CharField(max_length=64, editable=False)
    agent = models.ForeignKey(
        "agents_app.Agent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sessions",
        help_text="The agent serving it (active) or who served it (ended).",
        db_index=False,  # session_agent_state leads with it: a second index only costs writes
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=30, choices=EndReason.choices, blank=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    skill_group = models.ForeignKey(
        "skills_app.SkillGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
        help_text="The group it is routed in (set at creation; empty once that group is gone).",
        db_index=False,  # session_group_state_created leads with it
    )
    # Overflow: from this moment its group's overflow group may take it too (copied from the
    # group at creation, as every timer is); `overflowed_at` once that applied.
    overflow_at = models.DateTimeField(null=True, blank=True)
    overflowed_at = models.DateTimeField(null=True, blank=True)
    # The idle timer: the deadline is the truth, the Celery task only its fast path.
    idle_deadline = models.DateTimeField(null=True, blank=True)
    idle_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    # The idle warning, before the idle end: set with the idle deadline when the settings ask
    # for one, cleared when posted (once per idle period) or by a customer reply.
    idle_warning_at = models.DateTimeField(null=True, blank=True)
    # The queue timeout: by then served, or ended (copied from the settings at creation).
    queue_deadline = models.DateTimeField(null=True, blank=True)
    # The customer's language (prompts are sent in it): "en", "zh-hans".
    language = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["agent", "state"], name="session_agent_state"),
            models.Index(
                fields=["skill_group", "state", "created_at"], name="session_group_state_created"
            ),
            # Routing's hot reads, as partial indexes: they hold only the rows routing looks
            # for (a group's queue, an agent's active chats), so their cost never grows with
            # the desk's history. Every index an agent's load can be counted with leads with
            # the agent: with statistics taken while no chat was active (a fresh desk), the
            # planner took an index on (state, created_at) and read every active chat for
            # each agent of the pool.
            models.Index(
                fields=["skill_group", "created_at", "id"],
                condition=Q(state="queued"),
                name="session_queue",
            ),
            models.Index(
                fields=["agent"], condition=Q(state="active"), name="session_agent_active"
            ),
            models.Index(
                fields=["overflow_at"],
                condition=Q(
                    overflow_at__isnull=False,
                    overflowed_at__isnull=True,
                    state__in=["queued", "offered"],
                ),
                name="session_overflow_due",
            ),
            models.Index(
                fields=["idle_deadline"],
                condition=Q(idle_deadline__isnull=False),
                name="session_idle_deadline",
            ),
            models.Index(
                fields=["idle_warning_at"],
                condition=Q(idle_warning_at__isnull=False),
                name="session_idle_warning",
            ),
            models.Index(
                fields=["queue_deadline"],
                condition=Q(queue_deadline__isnull=False, state__in=["queued", "offered"]),
                name="session_queue_deadline",
            ),
            # The wallboard's reads: the open chats by group and state (never the history),
            # and the chats left before anyone served them, by when.
            models.Index(
                fields=["skill_group", "state", "created_at"],
                condition=Q(state__in=["queued", "offered", "active"]),
                name="session_open",
            ),
            models.Index(
                fields=["ended_at"],
                condition=Q(accepted_at__isnull=True, end_reason="customer_ended"),
                name="session_abandoned",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="active") | Q(agent__isnull=False, accepted_at__isnull=False),
                name="active_session_has_agent",
            ),
            models.CheckConstraint(
                condition=~Q(state="ended") | (Q(ended_at__isnull=False) & ~Q(end_reason="")),
                name="ended_session_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(idle_deadline__isnull=True) | Q(state="active"),
                name="idle_timer_only_when_active",
            ),
            models.CheckConstraint(
                condition=Q(idle_warning_at__isnull=True) | Q(idle_deadline__isnull=False),
                name="idle_warning_only_with_idle_timer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.state})"


class OfferOutcome(models.TextChoices):
    STANDING = "", "Standing"  # no outcome yet: the offer still counts against the agent
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"
    DECLINED = "declined", "Declined"


class OfferKind(models.TextChoices):
    ROUTING = "routing", "Routing"  # a waiting session proposed to an agent
    TRANSFER = "transfer", "Transfer"  # an active session, proposed by its agent or staff


# Outcomes that count as "missed this session": routing offers it to someone else first.
MISSED_OUTCOMES = (OfferOutcome.EXPIRED, OfferOutcome.DECLINED)


class OfferQuerySet(models.QuerySet):
    def standing(self) -> "OfferQuerySet":
        return self.filter(outcome=OfferOutcome.STANDING)


class Offer(models.Model):
    """A time-limited proposal of a session to one agent (manual mode). Standing = no outcome."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="offers")
    # Not indexed alone: offer_agent_outcome leads with it.
    agent = models.ForeignKey(
        "agents_app.Agent", on_delete=models.PROTECT, related_name="offers", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    timeout_seconds = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=OfferOutcome.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # A transfer offer stands on an active session: its agent (`from_agent`) keeps serving it
    # until the target accepts. Nothing moves if it expires or is declined.
    kind = models.CharField(max_length=10, choices=OfferKind.choices, default=OfferKind.ROUTING)
    from_agent = models.ForeignKey(
        "agents_app.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, max_length=500)

    objects = OfferQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # The standing offers, by agent (its load) and then deadline (the expiry tick reads
            # the whole of it: it holds only standing offers, a few per agent). One index, led
            # by the agent: with two (by deadline, by agent) and statistics taken while no
            # offer stood, the planner counted each agent's load by reading every standing
            # offer (bench/routing.py: 6.5 ms of a 13 ms create call).
            models.Index(
                fields=["agent", "expires_at"],
                condition=Q(outcome=OfferOutcome.STANDING),
                name="offer_standing",
            ),
            models.Index(fields=["agent", "outcome"], name="offer_agent_outcome"),
            # Reports: the offers they count (missed, declined, transfers) by when they were
            # made; the wallboard: the missed ones, by when they expired.
            models.Index(
                fields=["created_at"],
                condition=Q(outcome__in=["expired", "declined"]) | Q(kind="transfer"),
                name="offer_reported",
            ),
            models.Index(
                fields=["resolved_at"], condition=Q(outcome="expired"), name="offer_missed"
            ),
        ]
        constraints = [
            # `session IS NOT NULL` (always true: the column is NOT NULL) keeps this index out of
            # the agents' load counts: a query by session proves it, one by agent cannot. With
            # the same predicate as offer_standing, the two tied whenever the statistics were
            # taken while few offers stood, and the planner read every standing offer for each
            # agent through this one (bench/routing.py: 3.7 of a 6.6 ms create, 1 run in 5).
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(outcome=OfferOutcome.STANDING, session__isnull=False),
                name="one_standing_offer_per_session",
            ),
        ]

    def __str__(self) -> str:
        # Reads the session and the agent: lists of offers select them with the offers.
        kind = "Transfer" if self.is_transfer else "Offer"
        outcome = self.get_outcome_display().lower()
        return f"{kind} of {self.session.customer_name}'s chat to {self.agent.name} ({outcome})"

    @property
    def is_standing(self) -> bool:
        return self.outcome == OfferOutcome.STANDING

    @property
    def is_transfer(self) -> bool:
        return self.kind == OfferKind.TRANSFER


class Sender(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class Message(models.Model):
    # Not indexed alone: message_session_created leads with it.
    session = models.ForeignKey(
        ChatSession, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    sender = models.CharField(max_length=10, choices=Sender.choices)
    # The agent who wrote an agent message (a chat may change hands by transfer).
    author = models.ForeignKey(
        "agents_app.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the other side read it (a read receipt up to this message or a later one).
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["session", "created_at"], name="message_session_created")]

    def __str__(self) -> str:
        return f"{self.sender}: {self.body[:40]}"


def _attachment_path(instance: "Attachment", filename: str) -> str:
    # Never the uploaded name: a path of our own, so no name can climb out or collide.
    return f"{instance.session_id}/{uuid.uuid4().hex}"


def _attachments():
    from django.core.files.storage import storages

    return storages["attachments"]


class Attachment(models.Model):
    """A file sent in a chat: the message that carries it, and where its bytes are stored.

    `content_type` is judged from the bytes (sessions_app/attachments.py), never from the
    name; `name` is the uploaded name, cleaned, for the download only.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="attachments")
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="attachment", null=True, blank=True
    )
    file = models.FileField(upload_to=_attachment_path, storage=_attachments, max_length=200)
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.content_type}, {self.size} B)"


class Rating(models.Model):
    """How the customer rated a chat: once, after an agent served it, within the window. The
    agent is the one who served it last."""

    session = models.OneToOneField(ChatSession, on_delete=models.CASCADE, related_name="rating")
    agent = models.ForeignKey(
        "agents_app.Agent", null=True, on_delete=models.SET_NULL, related_name="ratings"
    )
    score = models.PositiveSmallIntegerField()
    scale = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)  # the reports' range

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=models.F("scale")),
                name="rating_score_in_scale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score}/{self.scale}"


class EventKind(models.TextChoices):
    """What happened: the audit trail's kinds, and the events the emitter derives pushes from."""

    SESSION_CREATED = "session.created", "Session created"
    ROUTING_CHOSEN = "routing.chosen", "Routing chose an agent"
    ROUTING_QUEUED = "routing.queued", "Routing queued the session"
    OFFER_MADE = "offer.made", "Offer made"
    OFFER_ACCEPTED = "offer.accepted", "Offer accepted"
    OFFER_EXPIRED = "offer.expired", "Offer expired"
    OFFER_WITHDRAWN = "offer.withdrawn", "Offer withdrawn"
    OFFER_DECLINED = "offer.declined", "Offer declined"
    TRANSFER_REQUESTED = "transfer.requested", "Transfer offered"
    TRANSFER_ACCEPTED = "transfer.accepted", "Transfer accepted"
    TRANSFER_FAILED = "transfer.failed", "Transfer expired, declined or withdrawn"
    RATING_SUBMITTED = "rating.submitted", "The customer rated the chat"
    SESSION_OVERFLOWED = "session.overflowed", "Overflow group became eligible"
    SESSION_ASSIGNED = "session.assigned", "Session assigned (auto)"
    SESSION_IDLE_WARNING = "session.idle_warning", "Customer warned before an idle end"
    SESSION_IDLE_TIMEOUT = "session.idle_timeout", "Customer idle timeout"
    SESSION_QUEUE_TIMEOUT = "session.queue_timeout", "Nobody served it within the queue timeout"
    SESSION_ENDED = "session.ended", "Session ended"
    AGENT_STATUS_CHANGED = "agent.status_changed", "Agent status changed"
    # Derived only, never stored as events: a message is its own row; the line moving is not
    # an event of any one session.
    MESSAGE_CREATED = "message.created", "Message created"
    MESSAGE_READ = "message.read", "Messages read"
    QUEUE_MOVED = "queue.moved", "The queue moved"


class SessionEvent(models.Model):
    """The desk's event log: one row per transition, per routing decision, per status change.

    `session` is empty for events about an agent alone (a status change).
    """

    session = models.ForeignKey(
        ChatSession, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    agent = models.ForeignKey(
        "agents_app.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
            # An agent's status history (the reports' online and away time), by agent.
            models.Index(
                fields=["agent", "created_at"],
                condition=Q(kind="agent.status_changed"),
                name="event_agent_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.created_at:%H:%M:%S}"


class OfflineMessage(models.Model):
    """A message left while the desk was closed, or after nobody answered in time."""

    customer_name = models.CharField(max_length=100)
    email = models.EmailField()
    message = models.TextField(max_length=4000)
    language = models.CharField(max_length=16, blank=True)
    # The chat that timed out in the queue, when the form came from one.
    session = models.ForeignKey(
        ChatSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    handled = models.BooleanField(default=False)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(handled=False), name="offline_unhandled"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} <{self.email}>"
