"""The audit trail in words: each SessionEvent as the line staff read in the admin.

Events store agents and groups by id (a routing decision names every agent it passed over);
the lines name them, looked up once for a whole page of events, never once per row.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from agents_app.models import Agent
from skills_app.models import SkillGroup

from .models import EndReason, EventKind, SessionEvent

# A routing decision's lists of agent ids, and why each agent in them was passed over.
PASSED_OVER = (
    ("at_capacity", "at capacity"),
    ("away", "away"),
    ("offline", "offline"),
    ("missed_this_session", "missed this chat"),
    ("not_a_member", "overflow group, not open yet"),
)
AGENT_KEYS = ("from_agent", "to_agent")
GROUP_KEYS = ("group", "overflow_group", "to_group")


def _ids(values) -> set[int]:
    found = set()
    for value in values if isinstance(values, list) else [values]:
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            try:
                found.add(int(value))
            except ValueError:
                continue  # not an id: an older row's shape, shown as it is
    return found


@dataclass
class Names:
    agents: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)

    def agent(self, pk) -> str:
        found = _ids(pk)
        if not found:
            return "nobody"
        (key,) = found
        return self.agents.get(key, f"agent #{key} (deleted)")

    def group(self, pk, stored: str = "") -> str:
        found = _ids(pk)
        if not found:
            return stored or "no group"
        (key,) = found
        # The name it had then, if the event kept it; else today's.
        return stored or self.groups.get(key, f"group #{key} (deleted)")


def names_of(events: Iterable[SessionEvent]) -> Names:
    """The names of every agent and group these events name: one query for the agents and
    one for the groups, whatever the number of events (none when they name none)."""
    agent_ids, group_ids = set(), set()
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.agent_id is not None:
            agent_ids.add(event.agent_id)
        for key in [*(k for k, _ in PASSED_OVER), *AGENT_KEYS]:
            agent_ids |= _ids(data.get(key))
        for key in GROUP_KEYS:
            if key != "group" or not data.get("group_name"):
                group_ids |= _ids(data.get(key))
    found = Names()
    if agent_ids:
        rows = Agent.objects.filter(pk__in=agent_ids)
        rows = rows.values_list("pk", "display_name", "user__username")
        found.agents = {pk: display or username for pk, display, username in rows}
    if group_ids:
        found.groups = dict(SkillGroup.objects.filter(pk__in=group_ids).values_list("pk", "name"))
    return found


def with_lines(events: Iterable[SessionEvent]) -> list[SessionEvent]:
    """The events, each with `.line`: what happened, in words (names looked up once)."""
    events = list(events)
    names = names_of(events)
    for event in events:
        event.line = line_of(event, names)
    return events


def line_of(event: SessionEvent, names: Names) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    words = _LINES.get(event.kind)
    text = words(event, data, names) if words is not None else event.get_kind_display()
    return text + _late(data)


def _late(data: dict) -> str:
    late = data.get("late_ms")
    return f" (its timer ran {late} ms late)" if isinstance(late, (int, float)) else ""


def _passed_over(data: dict, names: Names) -> list[str]:
    found = []
    for key, why in PASSED_OVER:
        found += [f"{names.agent(pk)} ({why})" for pk in sorted(_ids(data.get(key)))]
    return found


def _group(data: dict, names: Names) -> str:
    text = names.group(data.get("group"), data.get("group_name") or "")
    if data.get("overflow_group"):
        text += f" (and its overflow group {names.group(data['overflow_group'])})"
    return text


def _chosen(event: SessionEvent, data: dict, names: Names) -> str:
    text = f"Chose {names.agent(event.agent_id)} in {_group(data, names)}"
    others = _passed_over(data, names)
    if others:
        text += " over " + ", ".join(others)
    if data.get("reoffered_to_missed"):
        text += "; offered again to one who missed it: nobody else had room"
    return text


def _queued(event: SessionEvent, data: dict, names: Names) -> str:
    others = _passed_over(data, names)
    why = ", ".join(others) if others else "the group has no agents"
    return f"Waiting in {_group(data, names)}: {why}"


def _transfer_requested(event: SessionEvent, data: dict, names: Names) -> str:
    text = f"Transfer from {names.agent(data.get('from_agent'))} to {names.agent(event.agent_id)}"
    if data.get("to_group"):
        text += f" (the best free agent of {names.group(data['to_group'])})"
    return text


def _transfer_accepted(event: SessionEvent, data: dict, names: Names) -> str:
    return f"{names.agent(event.agent_id)} took over from {names.agent(data.get('from_agent'))}"


def _transfer_failed(event: SessionEvent, data: dict, names: Names) -> str:
    return (
        f"Transfer from {names.agent(data.get('from_agent'))} to {names.agent(event.agent_id)} "
        f"failed: {data.get('reason', 'unknown')}"
    )


def _ended(event: SessionEvent, data: dict, names: Names) -> str:
    reason = data.get("reason", "")
    label = EndReason(reason).label if reason in EndReason.values else reason or "unknown"
    text = f"Ended: {label}"
    if event.agent_id is not None:
        text += f", by {names.agent(event.agent_id)}"
    if data.get("previous_state"):
        text += f" (it was {data['previous_state']})"
    return text


def _rated(event: SessionEvent, data: dict, names: Names) -> str:
    text = f"Rated {data.get('score')}/{data.get('scale')}"
    return text + (f" for {names.agent(event.agent_id)}" if event.agent_id is not None else "")


def _status(event: SessionEvent, data: dict, names: Names) -> str:
    text = f"{names.agent(event.agent_id)} is now {data.get('status', '?')}"
    return text + (f" ({data['reason']})" if data.get("reason") else "")


def _agent_did(template: str):
    return lambda event, data, names: template.format(agent=names.agent(event.agent_id))


_LINES = {
    EventKind.SESSION_CREATED: lambda *_: "The customer opened the chat",
    EventKind.ROUTING_CHOSEN: _chosen,
    EventKind.ROUTING_QUEUED: _queued,
    EventKind.OFFER_MADE: _agent_did("Offered to {agent}"),
    EventKind.OFFER_ACCEPTED: _agent_did("{agent} accepted"),
    EventKind.OFFER_EXPIRED: _agent_did("The offer to {agent} expired"),
    EventKind.OFFER_DECLINED: _agent_did("{agent} declined"),
    EventKind.OFFER_WITHDRAWN: _agent_did("The offer to {agent} was withdrawn"),
    EventKind.TRANSFER_REQUESTED: _transfer_requested,
    EventKind.TRANSFER_ACCEPTED: _transfer_accepted,
    EventKind.TRANSFER_FAILED: _transfer_failed,
    EventKind.SESSION_ASSIGNED: _agent_did("Assigned to {agent}"),
    EventKind.SESSION_ENDED: _ended,
    EventKind.RATING_SUBMITTED: _rated,
    EventKind.AGENT_STATUS_CHANGED: _status,
}
