"""Skill groups and their members: who serves which sessions, in which order of priority."""

from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

DEFAULT_GROUP_NAME = "General"
DEFAULT_PRIORITY = 3
MAX_OVERFLOW_AFTER = 604800


class SkillGroup(models.Model):
    """A team of agents. Sessions are routed among its members; exactly one is the default."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(
        blank=True, max_length=1000, validators=[MaxLengthValidator(1000)]
    )
    is_default = models.BooleanField(
        default=False, help_text="Sessions that name no group go here. Exactly one group is it."
    )
    is_public = models.BooleanField(
        default=True, help_text="Customers may choose it on the chat page."
    )
    overflow_group = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Its members become eligible too once a session has waited long enough.",
    )
    overflow_after_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_OVERFLOW_AFTER)],
        help_text="How long a session waits before the overflow group may take it (0-604800).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_group"
            ),
            models.CheckConstraint(
                condition=~Q(overflow_group=models.F("pk")), name="overflow_not_to_itself"
            ),
            models.CheckConstraint(
                condition=Q(overflow_group__isnull=True, overflow_after_seconds__isnull=True)
                | Q(
                    overflow_group__isnull=False,
                    overflow_after_seconds__range=(0, MAX_OVERFLOW_AFTER),
                ),
                name="overflow_group_and_moment_together",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SkillGroupMember(models.Model):
    """An agent in a group, with its priority there: 1 is offered first, 5 last."""

    group = models.ForeignKey(SkillGroup, on_delete=models.CASCADE, related_name="members")
    agent = models.ForeignKey(
        "agents_app.Agent", on_delete=models.CASCADE, related_name="memberships"
    )
    priority = models.PositiveSmallIntegerField(
        default=DEFAULT_PRIORITY,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (offered first) to 5 (offered last).",
    )

    class Meta:
        ordering = ["group", "priority", "agent"]
        constraints = [
            models.UniqueConstraint(fields=["group", "agent"], name="one_membership_per_group"),
            models.CheckConstraint(condition=Q(priority__range=(1, 5)), name="priority_range"),
        ]
        indexes = [models.Index(fields=["agent", "group"], name="member_agent_group")]

    def __str__(self) -> str:
        return f"{self.agent} in {self.group} (priority {self.priority})"
