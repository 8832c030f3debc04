"""Which groups an agent's freed room wakes: its groups and those overflowing into them, and
only where someone waits, found in one statement."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app.actions.create import session_create
from skills_app.selectors import groups_to_wake

pytestmark = pytest.mark.django_db(transaction=True)


def test_room_freed_wakes_only_related_groups_where_someone_waits(manual, make_agent, make_group):
    alice, busy = make_agent(), make_agent(status="away")
    billing = make_group("Billing", {alice: 1})
    spill = make_group("Spill", {busy: 1}, overflow=billing, after=60)
    other = make_group("Other", {busy: 1})
    # Nobody waits anywhere: nothing to wake, found in one statement
    with CaptureQueriesContext(connection) as queries:
        assert groups_to_wake(agent_ids=[alice.pk]) == []
    assert len(queries.captured_queries) == 1
    # Someone waits in the group overflowing into Alice's, and in an unrelated one
    session_create(customer_name="Ann", skill_group=spill.pk)
    session_create(customer_name="Bo", skill_group=other.pk)
    assert groups_to_wake(agent_ids=[alice.pk]) == [spill.pk]
    # Now in Alice's own group too (she is away: it waits)
    alice_away = make_agent(status="away")
    lonely = make_group("Lonely", {alice_away: 1})
    session_create(customer_name="Cy", skill_group=lonely.pk)
    assert groups_to_wake(agent_ids=[alice_away.pk]) == [lonely.pk]
    assert groups_to_wake(group_ids=[billing.pk, other.pk]) == sorted([spill.pk, other.pk])
