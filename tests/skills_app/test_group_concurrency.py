"""Races across skill groups on PostgreSQL, with real connections and threads: 400 sessions
from 8 threads into 4 groups whose members overlap."""

import random
from collections import Counter

import pytest
from django.db.models import Count

from agents_app.selectors import agents_with_load
from sessions_app.actions.create import session_create
from sessions_app.models import ChatSession, Offer, SessionState
from skills_app.models import SkillGroupMember
from tests.sessions_app.test_concurrency import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(("mode", "served_state"), [("auto", "active"), ("manual", "offered")])
def test_400_sessions_into_4_overlapping_groups_fill_each_reachable_agent_exactly(
    service_settings, make_agent, make_group, mode, served_state
):
    # Given 12 online agents of capacity 3, each in 1 to 3 of four groups (and one more group
    # whose only member is offline, so its sessions all wait)
    service_settings.service_mode = mode
    service_settings.save()
    rng = random.Random(7)
    agents = [make_agent(max_sessions=3) for _ in range(12)]
    members: dict[int, dict] = {g: {} for g in range(4)}
    for i, agent in enumerate(agents):
        for g in rng.sample(range(4), k=1 + i % 3):
            members[g][agent] = rng.randint(1, 5)
    groups = [make_group(f"G{g}", members[g]) for g in range(4)]
    offline = make_agent(status="offline", max_sessions=3)
    closed = make_group("Closed", {offline: 1})
    group_of = {g.pk: g for g in [*groups, closed]}
    targets = [*groups, closed]

    # When 8 threads create 50 sessions each, at once, in groups picked at random
    def create_50(seed):
        pick = random.Random(seed)

        def run():
            made = []
            for _ in range(50):
                group = pick.choice(targets)
                made.append(session_create(customer_name="Racer", skill_group=group.pk)[0].pk)
            return made

        return run

    results = run_threads([create_50(seed) for seed in range(8)])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors

    # Then no agent is over capacity, and every agent some group reaches is exactly full
    loads = {a.pk: a.offer_load + a.active_load for a in agents_with_load()}
    assert all(loads[a.pk] == 3 for a in agents), loads
    assert loads[offline.pk] == 0
    # The routed sessions are exactly the free capacity reachable from the groups
    states = Counter(ChatSession.objects.values_list("state", flat=True))
    assert states == {served_state: 36, "queued": 400 - 36}
    # No session with two standing offers, none with an agent and an offer
    standing = Offer.objects.standing().values("session").annotate(n=Count("pk"))
    assert all(row["n"] == 1 for row in standing)
    if mode == "manual":
        assert standing.count() == 36
        assert not ChatSession.objects.filter(state="offered", agent__isnull=False).exists()
    else:
        assert not Offer.objects.exists()
    # Every session is routed or queued in its own group, and only to members of it
    membership = set(SkillGroupMember.objects.values_list("group_id", "agent_id"))
    for session in ChatSession.objects.all():
        assert session.skill_group_id in group_of
        if session.state == SessionState.QUEUED:
            continue
        agent_id = session.agent_id or Offer.objects.standing().get(session=session).agent_id
        assert (session.skill_group_id, agent_id) in membership
    # Each group still has sessions waiting (all its members full), the closed one them all
    queued = Counter(
        ChatSession.objects.filter(state="queued").values_list("skill_group_id", flat=True)
    )
    assert all(queued[g.pk] > 0 for g in groups), queued
    assert queued[closed.pk] == ChatSession.objects.filter(skill_group=closed).count()
