"""Daphne without Twisted's own parsing of form bodies.

Twisted's `http.Request` parses every POST with a multipart or URL-encoded body into
`request.args` before daphne hands it to the app, which reads it again: an attachment upload
was parsed twice (and held twice in memory), and a malformed multipart body was refused by
Twisted with an empty, untyped 400 that never reached Django's JSON errors. Django parses the
body itself; Twisted need not.
"""

from daphne.http_protocol import WebRequest

_original_init = WebRequest.__init__


def _init_without_form_parsing(self, *args, **kwargs):
    kwargs["parsePOSTFormSubmission"] = False
    _original_init(self, *args, **kwargs)


def install() -> None:
    if WebRequest.__init__ is not _init_without_form_parsing:
        WebRequest.__init__ = _init_without_form_parsing
