"""Django's makemessages, also collecting the pages' `t("...")` calls (static/js/live.js: the
scripts' shorthand for gettext with named placeholders)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=t"]
