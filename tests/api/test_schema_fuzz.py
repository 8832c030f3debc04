"""Schemathesis fuzzes every operation of our OpenAPI schema against the real daphne."""

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# No 5xx; every status, content type, header and body as the schema documents it.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples per operation and mode: bounded so the whole run stays well under a minute.
STAFF_EXAMPLES, OTHER_EXAMPLES = 5, 3


def _fuzz(operation, mode, base_url, headers, examples, path_parameters=None):
    kwargs = {"path_parameters": path_parameters} if path_parameters else {}
    strategy = operation.as_strategy(generation_mode=mode, **kwargs)

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    try:
        run()
    except Unsatisfiable:
        # An operation without inputs has no invalid data to generate; nothing to fuzz there.
        if mode != GenerationMode.NEGATIVE:
            raise


@pytest.mark.live
@pytest.mark.timeout(180)  # a hard stop; the example counts above are the real bound
@pytest.mark.django_db(transaction=True)
def test_fuzzed_requests_get_no_server_error_and_match_the_schema(
    live_server_url, staff_user, make_agent, make_session
):
    # Given the running app, a staff token, and a real session and agent for some paths
    token = requests.post(
        f"{live_server_url}/api/auth/token/",
        json={"username": staff_user.username, "password": "pw-" + staff_user.username},
        timeout=10,
    ).json()["token"]
    agent = make_agent()
    session, customer_token = make_session()
    schema = schemathesis.openapi.from_url(f"{live_server_url}/api/schema/")
    callers = {
        "staff": {"Authorization": f"Token {token}"},
        "anonymous": {},
        "customer": {"X-Customer-Token": customer_token},
    }
    from django.core.files.uploadedfile import SimpleUploadedFile

    from canned_app.actions import canned_create
    from sessions_app.actions.messages import message_send
    from skills_app.actions import skill_group_create

    group = skill_group_create(name="Fuzzed", members=[{"agent_id": agent.pk, "priority": 2}])
    canned = canned_create(owner=None, shortcut="fuzz", title="Fuzz", body="Hi {customer}")
    sent = message_send(
        session_id=session.pk,
        sender="customer",
        upload=SimpleUploadedFile("notes.txt", b"plain text"),
    )
    from sessions_app.actions.offline import offline_message_create

    left = offline_message_create(customer_name="Fuzz", email="fuzz@example.com", message="Hi")
    from webhooks_app.actions import webhook_create, webhook_ping

    hook = webhook_create(url=f"{live_server_url}/nowhere/", events=["ping"])
    pinged = webhook_ping(webhook_id=hook.pk)
    real_ids = {
        "message_id": str(left.pk),
        "webhook_id": str(hook.pk),
        "delivery_id": str(pinged.pk),
        "session_id": str(session.pk),
        "agent_id": str(agent.pk),
        "group_id": str(group.pk),
        "canned_id": str(canned.pk),
        "attachment_id": str(sent.attachment.pk),
    }
    started, runs = time.monotonic(), 0
    # When every operation is fuzzed: by staff with valid and invalid data, by an anonymous
    # caller and by the session's customer with valid data, on random and on real ids
    for result in schema.get_all_operations():
        operation = result.ok()
        needs = {p.name for p in operation.path_parameters}
        real = {name: real_ids[name] for name in needs}
        for caller, headers in callers.items():
            examples = STAFF_EXAMPLES if caller == "staff" else OTHER_EXAMPLES
            modes = [GenerationMode.POSITIVE]
            if caller == "staff":
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                # Then every response passes the checks (a failure raises with a curl line)
                if caller != "customer":
                    _fuzz(operation, mode, live_server_url, headers, examples)
                if real and (caller != "customer" or "session_id" in real):
                    _fuzz(operation, mode, live_server_url, headers, examples, real)
                runs += 1
    elapsed = time.monotonic() - started
    assert runs >= 20
    print(f"schemathesis: {runs} runs in {elapsed:.1f}s")
