"""`manage.py check_invariants`: report every broken invariant in the database, exit 1 if any."""

import json
import sys

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from sessions_app.invariants import check_all


class Command(BaseCommand):
    help = (
        "Check the desk's invariants against the database; exit status 1 on any violation, "
        "2 if the database cannot be read."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=5.0,
            help="Seconds a timer may be overdue, or a session queued beside a free agent "
            "(default 5: the sweep interval plus recovery).",
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print one JSON object."
        )

    def handle(self, *args, grace: float, as_json: bool = False, **options):
        try:
            found = check_all(grace_seconds=grace)
        except DatabaseError as exc:
            # Not a verdict on the data: a distinct status, so monitoring tells the two apart.
            self.stderr.write(f"cannot read the database: {exc}")
            sys.exit(2)
        if as_json:
            self.stdout.write(_dumps(found))
        elif found:
            for violation in found:
                self.stdout.write(str(violation))
            self.stdout.write(f"{len(found)} violation(s)")
        else:
            self.stdout.write("invariants hold: 0 violations")
        if found:
            sys.exit(1)


def _dumps(found) -> str:
    return json.dumps(
        {
            "violations": len(found),
            "items": [{"rule": v.rule, "subject": v.subject, "detail": v.detail} for v in found],
        }
    )
