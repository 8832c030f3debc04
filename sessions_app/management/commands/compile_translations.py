"""Compile the catalogues (locale/<lang>/LC_MESSAGES/*.po) into the .mo files Django reads.

Django's own compilemessages needs GNU gettext's msgfmt on the machine; Babel does the same in
Python, so `make run` and `make test` work on a machine without it. A .mo newer than its .po
is left alone. The .mo files are build output: never committed.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand


def compile_translations(*, force: bool = False) -> list[Path]:
    """Compile every stale catalogue; returns the .mo files written."""
    written = []
    for root in settings.LOCALE_PATHS:
        for po in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            # Fuzzy entries are guesses of makemessages: as msgfmt does, they are left out.
            with mo.open("wb") as target:
                write_mo(target, catalog, use_fuzzy=False)
            written.append(mo)
    return written


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo files (no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Also compile fresh ones.")

    def handle(self, *args, force: bool = False, **options):
        for mo in compile_translations(force=force):
            self.stdout.write(f"compiled {mo}")
