"""First end-to-end checks of the service layer (the full matrix lives in its own modules)."""

import pytest

from sessions_app import services
from sessions_app.models import SessionState


@pytest.mark.django_db(transaction=True)
def test_manual_mode_offers_then_accept_makes_active(service_settings, make_agent, make_session):
    agent = make_agent()
    session, token = make_session()
    assert session.state == SessionState.OFFERED
    assert token
    accepted = services.offer_accept(session_id=session.pk, agent=agent)
    assert accepted.state == SessionState.ACTIVE
    assert accepted.agent_id == agent.pk


@pytest.mark.django_db(transaction=True)
def test_auto_mode_assigns_at_once(service_settings, make_agent, make_session):
    service_settings.service_mode = "auto"
    service_settings.save()
    agent = make_agent()
    session, _ = make_session()
    assert session.state == SessionState.ACTIVE
    assert session.agent_id == agent.pk
