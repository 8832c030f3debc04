"""LOG_FORMAT=json: one JSON object per line, and every line of a session's life names it."""

import json
import logging

import pytest

from contactcenter.logging import JsonFormatter, session_context


@pytest.fixture
def json_lines():
    """Capture the services' log as the JSON formatter writes it."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sessions_app")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.mark.django_db(transaction=True)
def test_every_step_of_a_session_is_a_json_line_with_its_id(
    json_lines, service_settings, make_agent
):
    """Given an online agent, when a session is created, accepted and ended, every step logs."""
    from sessions_app.actions.create import session_create
    from sessions_app.actions.end import session_end
    from sessions_app.actions.offers import offer_accept

    agent = make_agent(max_sessions=2)
    session, _ = session_create(customer_name="Ann", message="Hello")
    offer_accept(session_id=session.pk, agent=agent)
    session_end(session_id=session.pk, reason="customer_ended")

    parsed = [json.loads(line) for line in json_lines]
    mine = [line for line in parsed if line.get("session_id") == str(session.pk)]
    events = [line["event"] for line in mine]
    assert events[0] == "session.created"
    assert "offer.made" in events
    assert "offer.accepted" in events
    assert events[-1] == "session.ended"
    assert all(line["level"] == "INFO" and line["ts"].endswith("+00:00") for line in mine)
    assert mine[-1]["data"]["reason"] == "customer_ended"


def test_lines_inside_a_session_context_carry_its_id_and_exceptions_stay_on_one_line():
    formatter = JsonFormatter()
    logger = logging.getLogger("tests.ops.logging")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    with session_context("5f0c4e8e-0000-4000-8000-000000000001"):
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info
        )
        text = formatter.format(record)

    assert "\n" not in text
    line = json.loads(text)
    assert line["session_id"] == "5f0c4e8e-0000-4000-8000-000000000001"
    assert line["msg"] == "failed x"
    assert "ValueError: boom" in line["exc"]
