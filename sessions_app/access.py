"""Who may see or act on a chat session: the one answer for REST, WebSocket and actions.

A caller is the session's customer (its secret token), the agent serving it or who served it
(the holder), an agent it was offered to, or staff. Whatever is not theirs is `NotFound`, so
nothing reveals that a session exists; what their role does not allow is refused by `require`.
"""

import enum
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import ValidationError

from agents_app.models import Agent
from agents_app.selectors import agent_for_user
from core.errors import Conflict, Forbidden, NotFound
from core.roles import is_supervisor

from .models import ChatSession, Offer, SessionState
from .selectors import session_get


class Role(enum.Enum):
    CUSTOMER = "customer"  # holds this session's customer token
    HOLDER = "holder"  # the agent the session is (or was) with
    OFFERED = "offered"  # an agent it was offered to, not (yet) its holder
    STAFF = "staff"  # staff or a supervisor, with no agent relation to this session


class Act(enum.Enum):
    READ = "read"
    READ_MESSAGES = "read_messages"
    WRITE = "write"
    ACCEPT = "accept"
    DECLINE = "decline"
    END = "end"
    TRANSFER = "transfer"
    RATE = "rate"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_for_customer(session_id: UUID | str, token: str | None) -> ChatSession | None:
    """The session if `token` is its customer's secret (constant-time compare), else None."""
    if not token or not isinstance(token, str):
        return None
    try:
        # The session row alone: a customer's requests mostly write (a message, an end), and
        # the agent's name is loaded only if a representation asks for it.
        session = ChatSession.objects.get(pk=session_id)
    except (ChatSession.DoesNotExist, ValueError, TypeError, ValidationError):
        return None
    if not hmac.compare_digest(session.customer_token_hash, hash_token(token)):
        return None
    return session


def session_role(session: ChatSession, *, agent: Agent | None, staff: bool) -> Role | None:
    """The role of an agent or staff user in a session; None when it is not theirs."""
    if agent is not None and session.agent_id == agent.pk:
        return Role.HOLDER
    if not staff:
        offered = agent is not None and Offer.objects.filter(session=session, agent=agent).exists()
        return Role.OFFERED if offered else None
    return Role.STAFF


@dataclass(frozen=True)
class Access:
    """A session and the caller's role in it."""

    session: ChatSession
    role: Role
    agent: Agent | None = None

    def require(self, act: Act) -> "Access":
        """Refuse what this role may not do with the session (a 403 or 409)."""
        refusal = _REFUSED.get((self.role, act))
        if refusal is not None:
            raise refusal()
        return self


def _refuse(error, detail: str, code: str):
    return lambda: error(detail, code=code)


# What each role may not do; everything else it may (the actions check the session's state).
_REFUSED = {
    (Role.OFFERED, Act.READ_MESSAGES): _refuse(
        Conflict, "Accept the chat before reading it.", "not_active"
    ),
    (Role.OFFERED, Act.END): _refuse(Conflict, "Accept the chat before ending it.", "not_active"),
    (Role.STAFF, Act.WRITE): _refuse(
        Forbidden, "Only the session's agent or its customer may write.", "not_your_session"
    ),
    (Role.CUSTOMER, Act.ACCEPT): _refuse(
        Forbidden, "Customers cannot accept chats.", "not_an_agent"
    ),
    (Role.CUSTOMER, Act.DECLINE): _refuse(
        Forbidden, "Customers cannot decline chats.", "not_an_agent"
    ),
    (Role.CUSTOMER, Act.TRANSFER): _refuse(
        Forbidden, "Customers cannot transfer chats.", "not_an_agent"
    ),
    (Role.OFFERED, Act.TRANSFER): _refuse(
        Conflict, "Accept the chat before transferring it.", "not_active"
    ),
    **{
        (role, Act.RATE): _refuse(Forbidden, "Only the customer rates a chat.", "not_customer")
        for role in (Role.HOLDER, Role.OFFERED, Role.STAFF)
    },
}


def access_session(
    session_id: UUID | str,
    *,
    user=None,
    customer_token: str | None = None,
    agent: Agent | None = None,
    staff: bool | None = None,
) -> Access:
    """The session and the caller's role, or NotFound when it is unknown or not theirs.

    A customer token decides alone. Otherwise the caller is `user` (its agent profile and
    staff flag looked up), or an agent already known (`agent`, `staff` as given).
    """
    if customer_token is not None:
        session = session_for_customer(session_id, customer_token)
        if session is None:
            raise NotFound("No such chat session.")
        return Access(session, Role.CUSTOMER)
    session = session_get(session_id)
    if session is None:
        raise NotFound("No such chat session.")
    if user is not None:
        agent = agent_for_user(user)
        staff = is_supervisor(user) if staff is None else staff
    role = session_role(session, agent=agent, staff=bool(staff))
    if role is None:
        raise NotFound("No such chat session.")
    return Access(session, role, agent)


def check_agent_acts(session: ChatSession, agent: Agent | None) -> None:
    """For actions, under the session's lock: an agent acts only on sessions it serves (or
    served); one it is offered must be accepted first; anyone else's is NotFound."""
    if agent is not None and session.agent_id == agent.pk:
        return
    if (
        agent is not None
        and session.state == SessionState.OFFERED
        and Offer.objects.standing().filter(session=session, agent=agent).exists()
    ):
        raise Conflict("Accept the chat first.", code="not_active")
    raise NotFound("No such chat session.")
