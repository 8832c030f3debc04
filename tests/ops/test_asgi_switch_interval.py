"""A daphne's GIL switch interval: what a request computing on Django's sync thread can cost
the event loop per socket wait (contactcenter/asgi.py; measured by bench/gil_switch.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def switch_interval_of_a_daphne(**env: str) -> float:
    """sys.getswitchinterval() in a fresh interpreter that loaded the ASGI app, as daphne does."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys, contactcenter.asgi; print(sys.getswitchinterval())"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return float(result.stdout)


@pytest.mark.parametrize(
    ("env", "seconds"),
    [
        ({}, 0.001),
        ({"ASGI_SWITCH_INTERVAL_MS": "0.5"}, 0.0005),
        ({"ASGI_SWITCH_INTERVAL_MS": "0"}, 0.005),
    ],
    ids=["default-1ms", "configured", "zero-keeps-python-default"],
)
def test_daphne_hands_the_gil_back_to_its_event_loop_promptly(env, seconds):
    assert switch_interval_of_a_daphne(**env) == pytest.approx(seconds)
