"""The prompts: the admin's notices, in the customer's language, placeholders filled in.

The settings hold each prompt's main text (its default is English). A language may have its
own text (`prompt_translations`); a prompt still at its default is translated by the desk's
own catalogue (locale/); an admin's own text without a translation is sent as written. An
empty main text means no message, in every language.
"""

from django.conf import settings
from django.utils import translation

from agents_app.models import PROMPTS
from core.text import fill_in

from .events import message_created
from .models import ChatSession, Message, Sender

MAX_BODY = 4000


def language_or_default(language: str | None) -> str:
    codes = {code for code, _ in settings.LANGUAGES}
    return language if language in codes else settings.LANGUAGE_CODE


def prompt_text(cfg, name: str, language: str | None = None, **values) -> str | None:
    """The prompt `name` for a customer speaking `language`, or None (the admin wants none).
    `cfg`: the settings, or anything with the prompt fields and `prompt_translations`."""
    main = getattr(cfg, name) or ""
    if not main.strip():
        return None
    language = language_or_default(language)
    own = ((cfg.prompt_translations or {}).get(language) or {}).get(name)
    if own:
        text = own
    elif main == PROMPTS[name][0]:
        with translation.override(language):
            text = translation.gettext(main)
    else:
        text = main
    return fill_in(text, **{k: str(v) for k, v in values.items()})[:MAX_BODY]


def system_message(session: ChatSession, body: str) -> Message:
    """A system message for the session, not yet written (the caller writes it: alone, or
    with others in one statement)."""
    message = Message(session=session, sender=Sender.SYSTEM, body=body)
    Message.attachment.related.set_cached_value(message, None)
    return message


def post_locked(session: ChatSession, cfg, name: str, **values) -> list:
    """Write the prompt `name` to a locked session (the customer's name filled in besides
    `values`); returns its event for the caller to record, or nothing if the admin wants
    none. The session's serving agent hears it too."""
    body = prompt_text(cfg, name, session.language, customer=session.customer_name, **values)
    if body is None:
        return []
    message = system_message(session, body)
    message.save()
    return [message_created(session, message)]
