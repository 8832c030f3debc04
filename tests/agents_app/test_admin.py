"""The Django admin: the settings singleton as one page, sessions with history, staff actions."""

import html
import json
import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from agents_app.models import PROMPTS, Agent, ServiceSettings
from sessions_app import selectors
from sessions_app.actions.end import session_end
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Offer, SessionState

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS_CHANGE = reverse("admin:agents_app_servicesettings_change", args=[1])


def settings_form(**changes) -> dict:
    cfg = ServiceSettings.objects.get(pk=1)
    data = {
        "service_mode": cfg.service_mode,
        "accept_timeout_seconds": cfg.accept_timeout_seconds,
        "customer_idle_timeout_seconds": cfg.customer_idle_timeout_seconds,
        "idle_end_notice": cfg.idle_end_notice,
        "default_max_sessions": cfg.default_max_sessions,
        "presence_grace_seconds": cfg.presence_grace_seconds,
        "missed_offers_before_away": cfg.missed_offers_before_away,
        "service_level_seconds": cfg.service_level_seconds,
        "transfer_notice": cfg.transfer_notice,
        "rating_scale": cfg.rating_scale,
        "rating_window_seconds": cfg.rating_window_seconds,
        "queue_timeout_seconds": cfg.queue_timeout_seconds,
        "idle_warning_seconds": cfg.idle_warning_seconds,
        "timezone": cfg.timezone,
        "working_hours": json.dumps(cfg.working_hours),
        "holidays": json.dumps(cfg.holidays),
        **{name: getattr(cfg, name) for name in PROMPTS},
    }
    if cfg.working_hours_enabled:
        data["working_hours_enabled"] = "on"
    if cfg.rating_enabled:
        data["rating_enabled"] = "on"  # a checkbox: absent means off
    data.update(changes)
    return data


def test_the_settings_list_redirects_to_the_single_change_page(admin_client, service_settings):
    response = admin_client.get(reverse("admin:agents_app_servicesettings_changelist"))
    assert response.status_code == 302 and response.url == SETTINGS_CHANGE
    page = admin_client.get(SETTINGS_CHANGE)
    assert page.status_code == 200
    assert b"deletelink" not in page.content


def test_the_settings_list_creates_the_row_when_missing(admin_client, db):
    ServiceSettings.objects.all().delete()
    response = admin_client.get(reverse("admin:agents_app_servicesettings_changelist"))
    assert response.url == SETTINGS_CHANGE and ServiceSettings.objects.filter(pk=1).exists()


def test_settings_cannot_be_added_or_deleted(admin_client, service_settings):
    assert admin_client.get(reverse("admin:agents_app_servicesettings_add")).status_code == 403
    delete = reverse("admin:agents_app_servicesettings_delete", args=[1])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ServiceSettings.objects.filter(pk=1).exists()


def test_staff_change_the_mode_and_timeouts_and_new_offers_follow(
    admin_client, service_settings, make_agent, make_session
):
    # When staff switch to auto mode with new timeouts
    response = admin_client.post(
        SETTINGS_CHANGE,
        settings_form(
            service_mode="auto",
            accept_timeout_seconds=12,
            customer_idle_timeout_seconds=45,
            idle_end_notice="Bye!",
        ),
    )
    assert response.status_code == 302
    cfg = ServiceSettings.objects.get(pk=1)
    assert (cfg.service_mode, cfg.accept_timeout_seconds) == ("auto", 12)
    assert (cfg.customer_idle_timeout_seconds, cfg.idle_end_notice) == (45, "Bye!")
    # Then a new chat is assigned at once
    make_agent()
    session, _ = make_session()
    assert session.state == SessionState.ACTIVE
    # And back in manual mode, offers carry the new timeout
    admin_client.post(SETTINGS_CHANGE, settings_form(service_mode="manual"))
    make_agent()
    offered, _ = make_session()
    assert Offer.objects.get(session=offered).timeout_seconds == 12


@pytest.mark.parametrize(
    "bad",
    [
        {"accept_timeout_seconds": 0},
        {"accept_timeout_seconds": 3601},
        {"customer_idle_timeout_seconds": 604801},
        {"default_max_sessions": 101},
        {"idle_end_notice": ""},
        {"idle_end_notice": "x" * 1001},
    ],
)
def test_settings_out_of_range_are_shown_as_errors_and_not_saved(
    admin_client, service_settings, bad
):
    response = admin_client.post(SETTINGS_CHANGE, settings_form(**bad))
    assert response.status_code == 200 and response.context["errors"]
    assert ServiceSettings.objects.get(pk=1).accept_timeout_seconds == 30


def test_a_session_page_shows_its_messages_and_events(
    admin_client, service_settings, make_agent, make_session
):
    agent = make_agent()
    session, _ = make_session(message="Where is my parcel?")
    offer_accept(session_id=session.pk, agent=agent)
    page = admin_client.get(reverse("admin:sessions_app_chatsession_change", args=[session.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Where is my parcel?" in html
    for kind in ("session.created", "routing.chosen", "offer.made", "offer.accepted"):
        assert kind in html


def test_sessions_are_filtered_by_state_agent_and_end_reason(
    admin_client, service_settings, make_agent, make_session
):
    service_settings.service_mode = "auto"
    service_settings.save()
    agent = make_agent(max_sessions=1)
    served, _ = make_session(name="Served")
    make_session(name="Waiting")
    session_end(session_id=served.pk, agent=agent, reason="agent_ended")
    changelist = reverse("admin:sessions_app_chatsession_changelist")

    def names(query: str) -> set[str]:
        page = admin_client.get(changelist + query)
        assert page.status_code == 200
        return {s.customer_name for s in page.context["cl"].result_list}

    assert names("?state=ended") == {"Served"}
    assert names("?end_reason=agent_ended") == {"Served"}
    # The waiting one was served by the same agent when the first ended
    assert names("?state=active") == {"Waiting"}
    assert names(f"?agent__id__exact={agent.pk}") == {"Served", "Waiting"}
    other = make_agent(status="offline")
    assert names(f"?agent__id__exact={other.pk}") == set()


def test_staff_end_sessions_with_the_admin_action(
    admin_client, service_settings, make_agent, make_session
):
    make_agent()
    session, _ = make_session()
    response = admin_client.post(
        reverse("admin:sessions_app_chatsession_changelist"),
        {"action": "end_as_staff", "_selected_action": [str(session.pk)]},
    )
    assert response.status_code == 302
    ended = selectors.session_get(session.pk)
    assert ended.state == SessionState.ENDED and ended.end_reason == "staff_ended"
    assert Offer.objects.get(session=session).outcome == "withdrawn"


def test_staff_transfer_an_active_chat_with_the_admin_action(
    admin_client, service_settings, make_agent, make_session
):
    alice = make_agent()
    session, _ = make_session()
    offer_accept(session_id=session.pk, agent=alice)
    bob = make_agent()
    url = reverse("admin:sessions_app_chatsession_changelist")
    chosen = {"action": "transfer_as_staff", "_selected_action": [str(session.pk)]}
    # First the form: who to, and a note
    form = admin_client.post(url, chosen)
    assert form.status_code == 200 and b"Transfer 1 active chat session" in form.content
    # Neither target: the form again, with the error
    again = admin_client.post(url, {**chosen, "apply": "1"})
    assert b"Choose an agent or a group" in again.content
    done = admin_client.post(url, {**chosen, "apply": "1", "to_agent": bob.pk, "note": "VIP"})
    assert done.status_code == 302
    offer = Offer.objects.standing().get(session=session)
    assert (offer.kind, offer.agent_id, offer.from_agent_id) == ("transfer", bob.pk, alice.pk)
    assert offer.note == "VIP"


def test_sessions_cannot_be_edited_by_hand(admin_client, service_settings, make_session):
    session, _ = make_session()
    url = reverse("admin:sessions_app_chatsession_change", args=[session.pk])
    assert admin_client.post(url, {"state": "ended"}).status_code == 403
    assert selectors.session_get(session.pk).state == SessionState.QUEUED


@pytest.mark.parametrize("model", ["offer", "message", "sessionevent", "chatsession"])
def test_every_session_model_has_an_admin_list(
    admin_client, service_settings, make_agent, make_session, model
):
    make_agent()
    make_session()
    page = admin_client.get(reverse(f"admin:sessions_app_{model}_changelist"))
    assert page.status_code == 200 and page.context["cl"].result_count >= 1


def test_the_agent_list_shows_load_and_sets_status(
    admin_client, service_settings, make_agent, make_session
):
    agent = make_agent(status="offline")
    session, _ = make_session()
    response = admin_client.post(
        reverse("admin:agents_app_agent_changelist"),
        {"action": "set_online", "_selected_action": [str(agent.pk)]},
    )
    assert response.status_code == 302
    assert Agent.objects.get(pk=agent.pk).status == "online"
    assert Offer.objects.get(session=session).agent_id == agent.pk  # the queue drained
    page = admin_client.get(reverse("admin:agents_app_agent_changelist"))
    assert page.status_code == 200


def test_editing_an_agent_in_admin_goes_through_the_services(
    admin_client, service_settings, make_agent, make_session
):
    agent = make_agent()
    session, _ = make_session()
    url = reverse("admin:agents_app_agent_change", args=[agent.pk])
    response = admin_client.post(
        url,
        {"user": agent.user_id, "display_name": "Renamed", "status": "away", "max_sessions": 2},
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    found = Agent.objects.get(pk=agent.pk)
    assert (found.display_name, found.status, found.max_sessions) == ("Renamed", "away", 2)
    assert Offer.objects.get(session=session).outcome == "withdrawn"


def test_staff_make_an_existing_user_an_agent_in_admin(
    admin_client, service_settings, make_session, django_user_model
):
    session, _ = make_session()
    user = django_user_model.objects.create_user(username="newbie", password="pw-newbie-1")
    response = admin_client.post(
        reverse("admin:agents_app_agent_add"),
        {"user": user.pk, "display_name": "Newbie", "status": "online", "max_sessions": ""},
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    agent = Agent.objects.get(user=user)
    assert agent.status == "online"
    assert Offer.objects.get(session=session).agent_id == agent.pk  # online: the queue drained


def test_the_session_list_shows_ratings_and_filters_by_score(
    admin_client, service_settings, make_agent, make_session
):
    from sessions_app.actions.end import session_end
    from sessions_app.actions.rating import rating_submit

    alice = make_agent()
    session, _ = make_session(name="Rated")
    offer_accept(session_id=session.pk, agent=alice)
    session_end(session_id=session.pk, reason="agent_ended", agent=alice)
    rating_submit(session_id=session.pk, score=4, comment="Good")
    make_session(name="Unrated")
    url = reverse("admin:sessions_app_chatsession_changelist")
    listed = admin_client.get(url)
    assert b"4/5" in listed.content
    filtered = admin_client.get(url + "?rating__score=4")
    assert [s.customer_name for s in filtered.context["cl"].result_list] == ["Rated"]
    detail = admin_client.get(reverse("admin:sessions_app_chatsession_change", args=[session.pk]))
    assert b"Good" in detail.content


def test_the_settings_page_groups_the_prompts_and_takes_a_chinese_text(
    admin_client, service_settings
):
    # Given the settings page: the prompts in their fieldset, defaults shown
    page = admin_client.get(SETTINGS_CHANGE).content.decode()
    assert "Prompts" in page and "Working hours" in page
    assert "welcome_notice__zh_hans" in page
    # When staff give the welcome in Chinese and set working hours
    response = admin_client.post(
        SETTINGS_CHANGE,
        settings_form(
            welcome_notice__zh_hans="欢迎光临！",
            working_hours=json.dumps([{"weekday": 0, "start": "09:00", "end": "17:00"}]),
            timezone="Europe/Berlin",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    cfg = ServiceSettings.objects.get(pk=1)
    assert cfg.prompt_translations == {"zh-hans": {"welcome_notice": "欢迎光临！"}}
    assert cfg.timezone == "Europe/Berlin" and cfg.working_hours[0]["end"] == "17:00"
    # And the page shows it back; emptying it removes it
    assert "欢迎光临！" in admin_client.get(SETTINGS_CHANGE).content.decode()
    admin_client.post(SETTINGS_CHANGE, settings_form(welcome_notice__zh_hans=""))
    assert ServiceSettings.objects.get(pk=1).prompt_translations == {}


def test_a_broken_schedule_in_the_admin_is_shown_on_its_field(admin_client, service_settings):
    response = admin_client.post(
        SETTINGS_CHANGE, settings_form(timezone="Nowhere/Atlantis", holidays='["soon"]')
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "timezone" in errors and "holidays" in errors


def test_the_settings_page_names_itself_once(admin_client, service_settings):
    # Given the one settings row, whose list leads back to this page
    shown = html.unescape(admin_client.get(SETTINGS_CHANGE).content.decode())
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', shown, re.S).group(1)
    # Then the crumbs end with it once, not linking to the list that redirects here
    assert re.sub(r"\s+", " ", crumbs).strip().endswith("› Service settings")
    assert crumbs.count("Service settings") == 1
    assert reverse("admin:agents_app_servicesettings_changelist") not in crumbs
    # And the page and window are titled with it once, the form still saved with its buttons
    assert "<h1>Service settings</h1>" in shown and "<h2>" not in shown.split("<form")[0]
    assert "<title>Service settings | " in shown
    assert 'name="_save"' in shown


def test_the_agent_list_and_page_show_times_to_the_second(
    admin_client, service_settings, make_agent
):
    agent = make_agent()
    at = datetime(2026, 12, 6, 13, 40, 7, tzinfo=UTC)
    Agent.objects.filter(pk=agent.pk).update(last_assigned_at=at, status_changed_at=at)
    listed = admin_client.get(reverse("admin:agents_app_agent_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:agents_app_agent_change", args=[agent.pk]))
    for shown in (listed, detail.content.decode()):
        assert "2026-12-06 13:40:07" in shown and "p.m." not in shown
