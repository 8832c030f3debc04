"""Agent status and capacity, and the settings singleton's validated ranges."""

import pytest

from agents_app.actions.agents import agent_create, agent_update
from agents_app.actions.settings import service_settings_get, service_settings_update
from agents_app.actions.status import agent_set_status
from agents_app.models import AgentStatus, ServiceSettings
from agents_app.selectors import agent_capacity, agent_load
from core.errors import Conflict, Invalid, NotFound
from sessions_app import selectors
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Offer, SessionEvent
from tests.conftest import offered_to, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manual(service_settings):
    service_settings.service_mode = "manual"
    service_settings.save()
    return service_settings


def test_a_new_agent_is_offline_and_gets_nothing(manual, make_agent, make_session):
    agent = make_agent(status="offline")
    assert agent.status == AgentStatus.OFFLINE
    session, _ = make_session()
    assert session.state == "queued"


def test_coming_online_drains_the_queue_in_creation_order(manual, make_agent, make_session):
    waiting = [make_session(name=f"C{i}")[0] for i in range(3)]
    agent = make_agent(max_sessions=2)
    assert agent.status == AgentStatus.ONLINE
    # (drained after the commit, or by the worker's sweep if it held the queue's lock)
    wait_until(lambda: selectors.session_get(waiting[1].pk).state == "offered", timeout=5)
    states = [selectors.session_get(s.pk).state for s in waiting]
    assert states == ["offered", "offered", "queued"]


def test_going_away_withdraws_every_standing_offer_and_reoffers_them(
    manual, make_agent, make_session
):
    leaving = make_agent(max_sessions=2)
    sessions = [make_session()[0] for _ in range(2)]
    other = make_agent(status="offline", max_sessions=2)
    agent_set_status(agent_id=other.pk, status="online")
    agent_set_status(agent_id=leaving.pk, status="away")
    for session in sessions:  # (re-offered after the commit, or by the worker's sweep)
        wait_until(lambda s=session: offered_to(s) == other.pk, timeout=5)
        assert SessionEvent.objects.filter(session=session, kind="offer.withdrawn").count() == 1
    assert agent_load(leaving) == 0


def test_going_away_without_anyone_else_queues_the_offered_sessions(
    manual, make_agent, make_session
):
    agent = make_agent()
    session, _ = make_session()
    agent_set_status(agent_id=agent.pk, status="offline")
    assert selectors.session_get(session.pk).state == "queued"
    # And coming back online offers it again (a withdrawal is not a miss)
    agent_set_status(agent_id=agent.pk, status="online")
    wait_until(lambda: offered_to(session) == agent.pk, timeout=5)


def test_setting_the_same_status_changes_nothing(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    agent_set_status(agent_id=agent.pk, status="online")
    assert Offer.objects.filter(session=session).count() == 1


@pytest.mark.parametrize("status", ["busy", "", None])
def test_an_unknown_status_is_refused(make_agent, status):
    agent = make_agent()
    with pytest.raises(Invalid):
        agent_set_status(agent_id=agent.pk, status=status)


def test_an_unknown_agent_is_not_found(db):
    with pytest.raises(NotFound):
        agent_set_status(agent_id=987654, status="online")


@pytest.mark.parametrize("capacity", [0, 101, -1])
def test_capacity_out_of_range_is_refused(make_agent, capacity):
    agent = make_agent()
    with pytest.raises(Invalid) as err:
        agent_update(agent_id=agent.pk, max_sessions=capacity)
    assert err.value.field == "max_sessions"


def test_a_blank_capacity_means_the_default(manual, make_agent):
    agent = make_agent(max_sessions=4)
    updated = agent_update(agent_id=agent.pk, max_sessions=None)
    assert agent_capacity(updated, manual) == manual.default_max_sessions


def test_a_taken_username_is_a_conflict(make_agent):
    agent = make_agent()
    with pytest.raises(Conflict):
        agent_create(username=agent.user.username, password="x-password")


@pytest.mark.parametrize(
    "changes",
    [
        {"accept_timeout_seconds": 0},
        {"accept_timeout_seconds": 3601},
        {"customer_idle_timeout_seconds": 0},
        {"customer_idle_timeout_seconds": 604801},
        {"default_max_sessions": 0},
        {"default_max_sessions": 101},
        {"idle_end_notice": ""},
        {"idle_end_notice": "x" * 1001},
        {"service_mode": "turbo"},
        {"colour": "blue"},
    ],
)
@pytest.mark.django_db
def test_settings_out_of_range_are_refused(service_settings, changes):
    with pytest.raises(Invalid) as err:
        service_settings_update(**changes)
    assert err.value.field == next(iter(changes))
    assert ServiceSettings.objects.get(pk=1).accept_timeout_seconds == 30


def test_settings_at_the_edges_of_their_ranges_are_accepted(service_settings):
    cfg = service_settings_update(
        service_mode="auto",
        accept_timeout_seconds=3600,
        customer_idle_timeout_seconds=1,
        idle_end_notice="x" * 1000,
        default_max_sessions=100,
    )
    cfg.refresh_from_db()
    assert (cfg.service_mode, cfg.accept_timeout_seconds, cfg.default_max_sessions) == (
        "auto",
        3600,
        100,
    )


def test_the_settings_defaults_match_the_contract(db):
    ServiceSettings.objects.all().delete()
    cfg = service_settings_get()
    assert cfg.service_mode == "manual"
    assert cfg.accept_timeout_seconds == 30
    assert cfg.customer_idle_timeout_seconds == 300
    assert cfg.default_max_sessions == 5
    assert cfg.idle_end_notice.startswith("This chat was closed because we did not hear back")


def test_active_sessions_stay_when_the_agent_goes_offline(manual, make_agent, make_session):
    agent = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=agent)
    agent_set_status(agent_id=agent.pk, status="offline")
    assert selectors.session_get(session.pk).agent_id == agent.pk
    assert agent_load(agent) == 1


def _seq(agent) -> int:
    """How many live events the agent's workspaces have been sent (the counter in Redis)."""
    import redis
    from django.conf import settings

    from sessions_app import push

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return int(client.get(push.seq_key(push.agent_group(agent.pk))) or 0)
    finally:
        client.close()


def test_a_status_change_inside_a_callers_transaction_is_announced_only_after_its_commit(
    manual, make_agent, make_session
):
    # Given an agent with a standing offer, changed from inside an outer transaction (as the
    # admin's save runs)
    from django.db import transaction

    agent = make_agent()
    session, _ = make_session()
    before = _seq(agent)
    with transaction.atomic():
        agent_set_status(agent_id=agent.pk, status="away")
        # Then nothing has reached the workspace while that transaction is open
        assert _seq(agent) == before
        assert Offer.objects.get(session=session).outcome == "withdrawn"
    # And after the commit it hears both: the offer withdrawn, and its new status
    assert _seq(agent) == before + 2
    assert SessionEvent.objects.filter(kind="agent.status_changed", agent=agent).count() == 2


def test_a_status_change_rolled_back_with_its_caller_is_never_announced(manual, make_agent):
    from django.db import transaction

    agent = make_agent(status="offline")
    before = _seq(agent)
    with pytest.raises(RuntimeError), transaction.atomic():
        agent_set_status(agent_id=agent.pk, status="online")
        raise RuntimeError("the admin's save failed after it")
    assert _seq(agent) == before
    agent.refresh_from_db()
    assert agent.status == "offline"
    assert not SessionEvent.objects.filter(kind="agent.status_changed", agent=agent).exists()


def test_a_status_change_and_its_withdrawals_commit_together_or_not_at_all(
    manual, make_agent, make_session, monkeypatch
):
    """One transaction: if withdrawing the offers fails, the agent is not left away with
    offers still standing (as three transactions in a row could)."""
    from agents_app.actions import status

    agent = make_agent()
    session, _ = make_session()

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away mid-change")

    monkeypatch.setattr(status, "offers_resolve_locked", broken)
    with pytest.raises(RuntimeError):
        agent_set_status(agent_id=agent.pk, status="away")
    agent.refresh_from_db()
    assert agent.status == "online"
    assert Offer.objects.get(session=session).outcome == ""
