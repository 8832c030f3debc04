"""A few seconds of bench/floor.py in CI: the floor is a benchmark, this guards it."""

from bench.floor import run_floor


def test_short_floor_run_serves_every_chat_and_measures_every_process():
    """Given 2 daphnes on the bare transport app and 6 agents, when customers arrive for 4 s,
    then every chat goes through its offer, messages and end, and the CPU of the two daphnes,
    Redis and the client is read for the report."""
    result = run_floor(rate=3, duration=4, agents=6)

    assert result["failed"] == 0
    assert result["chats"] >= 5
    assert set(result["cpu"]) == {"daphne0", "daphne1", "redis", "client"}
    assert result["cpu"]["daphne0"] > 0 and result["cpu"]["daphne1"] > 0
