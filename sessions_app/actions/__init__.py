"""State changes of chat sessions, one module per domain (create, offers, messages, end, sweep).

Each action runs in one transaction, locks rows in the order of `sessions_app/locks.py`, checks
the state (a domain error when the move is not allowed), writes with `update_fields`, and
records its events with `sessions_app.events.record`: pushes, timer tasks and log lines are
derived from those after commit.
"""
