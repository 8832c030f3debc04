"""A push names the session's group and agent without a query each time, and shows a rename
within NAME_TTL_SECONDS (sessions_app/selectors.py)."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app import selectors
from sessions_app.actions.offers import offer_accept
from sessions_app.models import ChatSession
from skills_app.models import SkillGroup

pytestmark = pytest.mark.django_db(transaction=True)


def fresh(session_id) -> ChatSession:
    """The session as an action holds it after its lock: no related rows loaded."""
    return ChatSession.objects.get(pk=session_id)


def test_pushes_name_the_group_and_agent_and_show_a_rename_soon(
    manual, make_agent, make_session, monkeypatch
):
    monkeypatch.setattr(selectors, "NAME_TTL_SECONDS", 0.3)
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    first = selectors.session_dict(fresh(session.pk))
    assert first["agent"]["display_name"] == agent.display_name
    group = SkillGroup.objects.get(pk=session.skill_group_id)
    assert first["skill_group"]["name"] == group.name
    # Within the TTL: the names cost no query
    held = fresh(session.pk)
    with CaptureQueriesContext(connection) as queries:
        again = selectors.session_dict(held)
    assert again["agent"] == first["agent"] and again["skill_group"] == first["skill_group"]
    assert queries.captured_queries == []
    # Renamed: the next pushes after the TTL say so
    SkillGroup.objects.filter(pk=group.pk).update(name="Billing desk")
    agent.display_name = "Alice B."
    agent.save(update_fields=["display_name"])
    time.sleep(0.35)
    renamed = selectors.session_dict(fresh(session.pk))
    assert renamed["skill_group"]["name"] == "Billing desk"
    assert renamed["agent"]["display_name"] == "Alice B."
