"""Canned responses: quick replies an agent inserts with `/shortcut` in the send box.

Shared ones (no owner) are staff's to manage and every agent's to use; an agent's own are its
alone. `{customer}` and `{agent}` in a body are filled in when it is inserted.
"""

from django.core.validators import MaxLengthValidator, RegexValidator
from django.db import models
from django.db.models import Q

SHORTCUT_PATTERN = r"^[a-z0-9_-]{1,32}$"


class CannedResponse(models.Model):
    owner = models.ForeignKey(
        "agents_app.Agent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        help_text="Empty: shared with every agent (managed by staff).",
    )
    shortcut = models.CharField(
        max_length=32,
        validators=[RegexValidator(SHORTCUT_PATTERN, "a-z, 0-9, _ and -, up to 32.")],
        help_text="Typed after / in the send box: a-z, 0-9, _ and -, up to 32.",
    )
    title = models.CharField(max_length=100)
    body = models.TextField(max_length=4000, validators=[MaxLengthValidator(4000)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "shortcut"],
                condition=Q(owner__isnull=False),
                name="canned_shortcut_unique_per_owner",
            ),
            models.UniqueConstraint(
                fields=["shortcut"],
                condition=Q(owner__isnull=True),
                name="canned_shortcut_unique_shared",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"
