"""The prompts a customer reads as system messages: each at its moment, once, placeholders
filled in, in the customer's language; and the idle warning before the idle end."""

import pytest

from agents_app.actions.settings import service_settings_update
from core.errors import Invalid
from sessions_app import selectors
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import offer_accept
from sessions_app.actions.sweep import timers_resolve_due
from sessions_app.models import SessionEvent, SessionState

pytestmark = pytest.mark.django_db(transaction=True)


def said(session) -> list[tuple[str, str]]:
    return [(m.sender, m.body) for m in selectors.session_messages(session)]


def system(session) -> list[str]:
    return [body for sender, body in said(session) if sender == "system"]


def test_a_new_chat_reads_the_welcome_after_its_first_message(prompts_on, make_agent):
    service_settings_update(welcome_notice="Hi {customer}, thanks for writing.")
    session, _ = session_create(customer_name="Maria", message="My parcel is late")
    assert said(session)[:2] == [
        ("customer", "My parcel is late"),
        ("system", "Hi Maria, thanks for writing."),
    ]


def test_an_empty_prompt_sends_nothing(service_settings, make_agent):
    # The service_settings fixture empties welcome, queue, joined and ended notices
    agent = make_agent()
    session, _ = session_create(customer_name="Maria", message="Hello")
    offer_accept(session_id=session.pk, agent=agent)
    session_end(session_id=session.pk, reason="agent_ended", agent=agent)
    assert said(session) == [("customer", "Hello")]


def test_the_queue_notice_says_each_waiting_customer_their_place_once(prompts_on, make_agent):
    # Given nobody online: two customers wait
    first, _ = session_create(customer_name="Ann", message="One")
    second, _ = session_create(customer_name="Ben", message="Two")
    assert "All our agents are busy. You are number 1 in line." in system(first)
    assert "All our agents are busy. You are number 2 in line." in system(second)
    # When an agent comes and takes the first, the line moves: no new notice for the second
    agent = make_agent()
    offer_accept(session_id=first.pk, agent=agent)
    assert [b for b in system(second) if "in line" in b] == [
        "All our agents are busy. You are number 2 in line."
    ]


def test_a_chat_offered_at_once_gets_no_queue_notice(prompts_on, make_agent):
    make_agent()
    session, _ = session_create(customer_name="Ann", message="One")
    assert session.state == SessionState.OFFERED
    assert not [b for b in system(session) if "in line" in b]


def test_the_agent_joined_notice_on_accept_names_the_agent(prompts_on, make_agent):
    agent = make_agent(name="sofia")
    session, _ = session_create(customer_name="Ann", message="One")
    offer_accept(session_id=session.pk, agent=agent)
    assert system(session)[-1] == f"{agent.name} joined the chat."


def test_the_agent_joined_notice_on_auto_assignment(prompts_on, make_agent):
    service_settings_update(service_mode="auto", agent_joined_notice="{agent} is here, {customer}.")
    agent = make_agent(name="sofia")
    session, _ = session_create(customer_name="Ann", message="One")
    assert session.state == SessionState.ACTIVE
    assert said(session) == [
        ("customer", "One"),
        ("system", "Thanks for reaching out. We'll be with you shortly."),
        ("system", f"{agent.name} is here, Ann."),
    ]


def test_a_queued_chat_assigned_later_hears_who_joined(prompts_on, make_agent):
    service_settings_update(service_mode="auto")
    session, _ = session_create(customer_name="Ann", message="One")
    assert session.state == SessionState.QUEUED
    agent = make_agent(name="late")  # online: the queue drains to it
    from tests.conftest import wait_until

    wait_until(lambda: selectors.session_get(session.pk).state == SessionState.ACTIVE, 5)
    assert system(session)[-1] == f"{agent.name} joined the chat."


def test_the_agent_ended_notice_only_when_the_agent_ends(prompts_on, make_agent):
    agent = make_agent(name="sofia")
    by_agent, _ = session_create(customer_name="Ann", message="One")
    offer_accept(session_id=by_agent.pk, agent=agent)
    session_end(session_id=by_agent.pk, reason="agent_ended", agent=agent)
    assert system(by_agent)[-1] == f"{agent.name} ended the chat."
    by_customer, _ = session_create(customer_name="Ben", message="Two")
    offer_accept(session_id=by_customer.pk, agent=agent)
    session_end(session_id=by_customer.pk, reason="customer_ended")
    assert not [b for b in system(by_customer) if "ended the chat" in b]


def test_placeholders_that_are_not_ours_stay_as_written(prompts_on):
    service_settings_update(welcome_notice="Hi {customer}! {unknown} {position}")
    session, _ = session_create(customer_name="Ann", message="One")
    assert "Hi Ann! {unknown} {position}" in system(session)


def test_an_admin_translation_is_sent_to_a_customer_of_that_language(prompts_on):
    service_settings_update(
        welcome_notice="Welcome!", prompt_translations={"zh-hans": {"welcome_notice": "欢迎！"}}
    )
    chinese, _ = session_create(customer_name="Li", message="你好", language="zh-hans")
    english, _ = session_create(customer_name="Ann", message="Hi", language="en")
    other, _ = session_create(customer_name="Jo", message="Hi", language="fr")
    assert "欢迎！" in system(chinese)
    assert "Welcome!" in system(english) and "Welcome!" in system(other)
    assert (chinese.language, other.language) == ("zh-hans", "en")


def test_a_default_prompt_is_sent_in_the_customers_language(prompts_on):
    session, _ = session_create(customer_name="Li", message="你好", language="zh-hans")
    # The desk's own catalogue (locale/zh_Hans) translates the default text.
    assert "感谢您的联系，我们会尽快为您服务。" in system(session)


def test_translations_name_only_known_languages_and_prompts(prompts_on):
    with pytest.raises(Invalid) as bad_language:
        service_settings_update(prompt_translations={"fr": {"welcome_notice": "Bonjour"}})
    assert bad_language.value.field == "prompt_translations"
    with pytest.raises(Invalid):
        service_settings_update(prompt_translations={"zh-hans": {"nope": "x"}})


# --- the idle warning -------------------------------------------------------------------------


@pytest.fixture
def warned(prompts_on, clock, make_agent):
    """An active chat whose agent has just written: idle end in 60 s, warning 20 s before."""
    service_settings_update(customer_idle_timeout_seconds=60, idle_warning_seconds=20)
    agent = make_agent()
    session, _ = session_create(customer_name="Ann", message="One")
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Anything else?", agent=agent)
    return session


WARNING = "Are you still there? This chat will close soon if we don't hear from you."


def test_the_warning_comes_before_the_end_once(warned, clock):
    row = selectors.session_get(warned.pk)
    assert (row.idle_deadline - row.idle_warning_at).total_seconds() == 20
    clock.advance(39)
    timers_resolve_due()
    assert WARNING not in system(warned)
    clock.advance(2)  # 41 s: past the warning, before the end
    assert timers_resolve_due()["idle_warned"] == 1
    assert timers_resolve_due()["idle_warned"] == 0  # once per idle period
    assert system(warned).count(WARNING) == 1
    assert selectors.session_get(warned.pk).state == SessionState.ACTIVE
    clock.advance(20)  # 61 s: the end
    assert timers_resolve_due()["idle_ended"] == 1
    ended = selectors.session_get(warned.pk)
    assert ended.state == SessionState.ENDED and ended.end_reason == "customer_idle_timeout"
    assert system(warned).count(WARNING) == 1
    assert SessionEvent.objects.filter(session=warned, kind="session.idle_warning").count() == 1


def test_a_reply_between_warning_and_end_cancels_both(warned, clock):
    clock.advance(41)
    timers_resolve_due()
    message_send(session_id=warned.pk, sender="customer", body="Still here!")
    clock.advance(120)
    assert timers_resolve_due() == {
        "offers_expired": 0,
        "idle_ended": 0,
        "idle_warned": 0,
        "queue_timed_out": 0,
        "overflowed": 0,
    }
    assert selectors.session_get(warned.pk).state == SessionState.ACTIVE
    assert system(warned).count(WARNING) == 1


def test_a_reply_before_the_warning_cancels_it(warned, clock):
    message_send(session_id=warned.pk, sender="customer", body="Here")
    clock.advance(120)
    timers_resolve_due()
    assert WARNING not in system(warned)
    assert selectors.session_get(warned.pk).state == SessionState.ACTIVE


def test_the_agent_writing_again_starts_a_new_idle_period_with_its_own_warning(
    warned, clock, make_agent
):
    clock.advance(41)
    timers_resolve_due()
    session = selectors.session_get(warned.pk)
    message_send(session_id=session.pk, sender="agent", body="Hello?", agent=session.agent)
    clock.advance(41)
    timers_resolve_due()
    assert system(warned).count(WARNING) == 2


def test_no_warning_when_it_is_off_or_not_before_the_end(prompts_on, clock, make_agent):
    with pytest.raises(Invalid) as late:
        service_settings_update(customer_idle_timeout_seconds=30, idle_warning_seconds=30)
    assert late.value.field == "idle_warning_seconds"
    service_settings_update(customer_idle_timeout_seconds=30, idle_warning_seconds=0)
    agent = make_agent()
    session, _ = session_create(customer_name="Ann", message="One")
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Hi", agent=agent)
    assert selectors.session_get(session.pk).idle_warning_at is None
    clock.advance(31)
    timers_resolve_due()
    assert WARNING not in system(session)


def test_no_warning_after_the_session_ended(warned, clock):
    session = selectors.session_get(warned.pk)
    session_end(session_id=session.pk, reason="agent_ended", agent=session.agent)
    assert selectors.session_get(warned.pk).idle_warning_at is None
    clock.advance(41)
    timers_resolve_due()
    assert WARNING not in system(warned)


# --- the queue timeout ------------------------------------------------------------------------


def test_a_chat_nobody_serves_in_time_ends_with_queue_timeout(prompts_on, clock, make_agent):
    # Given a 120 s queue timeout, offers that stand 10 minutes, and one-chat agents
    service_settings_update(queue_timeout_seconds=120, accept_timeout_seconds=600)
    first = make_agent(max_sessions=1)
    served, _ = session_create(customer_name="Ann", message="One")
    offer_accept(session_id=served.pk, agent=first)
    offered, _ = session_create(customer_name="Ben", message="Two")
    make_agent(max_sessions=1)  # offered Ben's chat, never answers
    queued, _ = session_create(customer_name="Cy", message="Three")
    assert selectors.session_get(offered.pk).state == SessionState.OFFERED
    assert selectors.session_get(queued.pk).state == SessionState.QUEUED
    # When 119 s pass nothing ends; at 121 s the two unserved chats end
    clock.advance(119)
    assert timers_resolve_due()["queue_timed_out"] == 0
    clock.advance(2)
    assert timers_resolve_due()["queue_timed_out"] == 2
    for session in (offered, queued):
        row = selectors.session_get(session.pk)
        assert row.state == SessionState.ENDED and row.end_reason == "queue_timeout"
    assert not selectors.session_get(offered.pk).offers.filter(outcome="").exists()
    # The served chat goes on
    assert selectors.session_get(served.pk).state == SessionState.ACTIVE


def test_the_queue_timeout_is_off_by_default(prompts_on, clock):
    session, _ = session_create(customer_name="Ann", message="One")
    assert selectors.session_get(session.pk).queue_deadline is None
    clock.advance(7 * 86400)
    timers_resolve_due()
    assert selectors.session_get(session.pk).state == SessionState.QUEUED
