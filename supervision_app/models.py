"""The reports' rollups: one row per past day, per skill group and in total, so that a year of
reports reads a few hundred rows instead of every chat.

A day is rolled up once it is over (in the settings' time zone); a later change to one of its
chats (ended or rated after midnight) deletes its rows (`rollup.invalidate`, from the emitter),
and the next beat run writes them again. The reports read the rows that exist and compute the
rest (today, and any day not rolled up) from the chats themselves, with the same code.
"""

from django.db import models


class ReportDay(models.Model):
    """One local day's figures of the chats created that day, for one group (or all: null)."""

    timezone = models.CharField(max_length=64)
    day = models.DateField()
    group = models.ForeignKey(
        "skills_app.SkillGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The day's span in UTC: a chat created in it invalidates the row, whatever the zone.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created = models.PositiveIntegerField(default=0)
    served = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    idle_ended = models.PositiveIntegerField(default=0)
    timed_out = models.PositiveIntegerField(default=0)
    wait_p50 = models.FloatField(null=True)
    wait_p90 = models.FloatField(null=True)
    handle_sum = models.FloatField(default=0)
    handle_count = models.PositiveIntegerField(default=0)
    # Scores as fractions of their scale (a 4 of 5 is 0.8): the average is shown on the scale
    # the settings have now, whichever scale a rating was given on.
    rating_sum = models.FloatField(default=0)
    rating_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        # One row per day and group, and one for all groups (partial indexes: SQLite has no
        # NULLS NOT DISTINCT).
        constraints = [
            models.UniqueConstraint(
                fields=["timezone", "day", "group"],
                condition=models.Q(group__isnull=False),
                name="one_report_day_per_group",
            ),
            models.UniqueConstraint(
                fields=["timezone", "day"],
                condition=models.Q(group__isnull=True),
                name="one_report_day_in_total",
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="report_day_span")]

    def __str__(self) -> str:
        return f"{self.day} ({self.group_id or 'all'})"
