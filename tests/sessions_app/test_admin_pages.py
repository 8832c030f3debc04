"""The admin as a supervisor reads it: the desk's name, times to the second, routing decisions
and offers in words, and no Save button on a page where nothing can be changed."""

import html
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents_app.actions.agents import agent_update
from agents_app.actions.status import agent_set_status
from sessions_app.actions.offers import offer_accept, offer_decline
from sessions_app.models import ChatSession, Message, Offer, SessionEvent

pytestmark = pytest.mark.django_db(transaction=True)

AT = datetime(2026, 12, 6, 13, 40, 7, tzinfo=UTC)
SHOWN = "2026-12-06 13:40:07"
SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"')


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def agent(make_agent, name: str, **kwargs):
    found = make_agent(**kwargs)
    return agent_update(agent_id=found.pk, display_name=name)


@pytest.fixture
def offered(manual, make_agent, make_session):
    """Jane's chat offered to Alice, after Bob (at capacity), Carol (away), Dan (offline)."""
    agent(make_agent, "Bob", max_sessions=1)
    make_session(name="Earlier")  # Bob's one slot
    alice = agent(make_agent, "Alice", max_sessions=5)
    carol = agent(make_agent, "Carol")
    agent_set_status(agent_id=carol.pk, status="away")
    agent(make_agent, "Dan", status="offline")
    session, _ = make_session(name="Jane")
    offer = Offer.objects.get(session=session)
    assert offer.agent_id == alice.pk
    return session, offer, alice


def test_the_admin_carries_the_desks_name(admin_client, settings):
    # Given the desk's name in its setting
    settings.DESK_NAME = "Acme help"
    # Then the admin's header, window title and index title say it, never Django's
    index = page(admin_client, reverse("admin:index"))
    assert '<div id="site-name"><a href="/admin/">Acme help</a></div>' in index
    assert "<title>Acme help administration | Acme help</title>" in index
    assert "Django administration" not in index and "Django site admin" not in index
    offers = page(admin_client, reverse("admin:sessions_app_offer_changelist"))
    assert "| Acme help</title>" in offers


def test_offers_show_their_times_to_the_second_and_are_labelled_in_words(admin_client, offered):
    # Given Jane's offer to Alice, declined at a known second
    session, offer, alice = offered
    offer_decline(session_id=session.pk, agent=alice)
    Offer.objects.filter(pk=offer.pk).update(
        created_at=AT, expires_at=AT + timedelta(seconds=30), resolved_at=AT + timedelta(seconds=9)
    )
    # Then the list and the offer's own page show the seconds, and say whose chat and to whom
    listed = page(admin_client, reverse("admin:sessions_app_offer_changelist"))
    label = "Offer of Jane's chat to Alice (declined)"
    for text in (label, SHOWN, "2026-12-06 13:40:37", "2026-12-06 13:40:16"):
        assert text in listed
    assert "p.m." not in listed
    detail = page(admin_client, reverse("admin:sessions_app_offer_change", args=[offer.pk]))
    assert label in detail and SHOWN in detail and "2026-12-06 13:40:37" in detail
    # And the chat's page labels it so too
    chat = page(admin_client, reverse("admin:sessions_app_chatsession_change", args=[session.pk]))
    assert label in chat and "Offer 1 to" not in chat


def test_every_session_page_shows_times_to_the_second(admin_client, offered):
    session, offer, alice = offered
    offer_accept(session_id=session.pk, agent=alice)
    ChatSession.objects.filter(pk=session.pk).update(created_at=AT, accepted_at=AT)
    Message.objects.filter(session=session).update(created_at=AT)
    SessionEvent.objects.filter(session=session).update(created_at=AT)
    event = SessionEvent.objects.filter(session=session).first()
    urls = [
        reverse("admin:sessions_app_chatsession_changelist"),
        reverse("admin:sessions_app_chatsession_change", args=[session.pk]),  # fields, inlines
        reverse("admin:sessions_app_message_changelist"),
        reverse("admin:sessions_app_sessionevent_changelist"),
        reverse("admin:sessions_app_sessionevent_change", args=[event.pk]),
    ]
    for url in urls:
        shown = page(admin_client, url)
        assert SHOWN in shown and "p.m." not in shown, url


def test_routing_decisions_name_the_agents_chosen_and_passed_over(admin_client, offered):
    session, _, _ = offered
    expected = "Chose Alice in General over Bob (at capacity), Carol (away), Dan (offline)"
    chosen = SessionEvent.objects.get(session=session, kind="routing.chosen")
    # In the event log, and on the chat's own page, in words rather than ids
    listed = page(admin_client, reverse("admin:sessions_app_sessionevent_changelist"))
    assert expected in listed and "at_capacity" not in listed
    detail = page(admin_client, reverse("admin:sessions_app_sessionevent_change", args=[chosen.pk]))
    assert expected in detail
    chat = page(admin_client, reverse("admin:sessions_app_chatsession_change", args=[session.pk]))
    assert expected in chat and "Offered to Alice" in chat
    assert "at_capacity" not in chat


def test_a_queued_chat_says_why_nobody_took_it(admin_client, manual, make_agent, make_session):
    # Given Bob's one slot taken and Carol away
    agent(make_agent, "Bob", max_sessions=1)
    make_session(name="Earlier")
    agent_set_status(agent_id=agent(make_agent, "Carol").pk, status="away")
    # When Jane's chat comes, it waits; its page says why
    session, _ = make_session(name="Jane")
    assert session.state == "queued"
    chat = page(admin_client, reverse("admin:sessions_app_chatsession_change", args=[session.pk]))
    assert "Waiting in General: Bob (at capacity), Carol (away)" in chat


def queries(client, url: str) -> int:
    """Statements one request for the page makes (after a first: Django caches content types)."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_lists_and_the_chat_page_cost_the_same_queries_however_many_rows(
    admin_client, manual, make_agent, make_session
):
    # Given one chat offered, with its events, and the pages' query counts
    agents = [agent(make_agent, f"Agent {n}") for n in range(2)]
    first, _ = make_session(name="First")
    lists = [
        reverse("admin:sessions_app_sessionevent_changelist"),
        reverse("admin:sessions_app_offer_changelist"),
        reverse("admin:sessions_app_chatsession_changelist"),
    ]
    chat = reverse("admin:sessions_app_chatsession_change", args=[first.pk])
    before = {url: queries(admin_client, url) for url in [*lists, chat]}
    # When more chats come, naming more agents, and the first one passes to the other agent
    agents += [agent(make_agent, f"Agent {n}") for n in range(2, 5)]
    for n in range(4):
        make_session(name=f"Later {n}")
    offer = Offer.objects.get(session=first)
    offer_decline(session_id=first.pk, agent=next(a for a in agents if a.pk == offer.agent_id))
    assert Offer.objects.filter(session=first).count() == 2
    # Then no page asks more of the database
    after = {url: queries(admin_client, url) for url in [*lists, chat]}
    assert after == before


@pytest.mark.parametrize("model", ["offer", "sessionevent", "message", "chatsession"])
def test_pages_of_what_cannot_be_changed_have_no_save_buttons(admin_client, offered, model):
    session, *_ = offered
    found = {
        "offer": Offer.objects.filter(session=session).first,
        "sessionevent": SessionEvent.objects.filter(session=session).first,
        "message": Message.objects.filter(session=session).first,
        "chatsession": lambda: session,
    }[model]()
    shown = page(admin_client, reverse(f"admin:sessions_app_{model}_change", args=[found.pk]))
    assert not [button for button in SAVE_BUTTONS if button in shown]
    # Still an end and a transfer on the chats' list: those go through actions
    if model == "chatsession":
        listed = page(admin_client, reverse("admin:sessions_app_chatsession_changelist"))
        assert "end_as_staff" in listed and "transfer_as_staff" in listed


def test_no_admin_page_offers_save_when_it_has_nothing_to_change(rf, admin_user):
    """Every registered admin (the desk's and other apps'): a change page whose every field is
    read-only is a view, without Save buttons."""
    request = rf.get("/admin/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        obj = model()
        if not model_admin.has_change_permission(request, obj):
            continue  # a view: Django shows no Save button
        form = model_admin.get_form(request, obj, change=True)
        inlines = [
            inline
            for inline in model_admin.get_inline_instances(request, obj)
            if inline.has_change_permission(request, obj) or inline.has_add_permission(request, obj)
        ]
        assert form.base_fields or inlines, f"{model.__name__}: all read-only, but Save shown"


def test_an_event_naming_groups_and_a_gone_agent_by_id_still_reads(
    admin_client, service_settings, make_agent, make_group
):
    # Given a decision stored with ids only: an overflow group, and an agent since deleted
    alice = agent(make_agent, "Alice")
    billing = make_group("Billing")
    SessionEvent.objects.create(
        kind="routing.chosen",
        agent=alice,
        data={
            "group": "999",
            "group_name": "Sales",
            "overflow_group": str(billing.pk),
            "at_capacity": ["424242"],
            "reoffered_to_missed": True,
        },
    )
    # Then the log names what it can, and says what is gone
    listed = page(admin_client, reverse("admin:sessions_app_sessionevent_changelist"))
    assert (
        "Chose Alice in Sales (and its overflow group Billing) over agent #424242 (deleted) "
        "(at capacity); offered again to one who missed it: nobody else had room"
    ) in listed
