"""The shared contract smoke test (../shared/contract-smoke/smoke.py) against a live server."""

import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parents[1].parent / "shared" / "contract-smoke" / "smoke.py"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_contract_smoke_passes_against_the_live_server(
    live_server_url, celery_worker, celery_beat, service_settings, django_user_model
):
    if not SMOKE.exists():
        pytest.skip(f"the contract smoke test is not at {SMOKE}")
    # Given a staff user on a desk with no agent online
    django_user_model.objects.create_user("smoke-staff", password="smoke-pw", is_staff=True)

    # When the smoke walks the contract over REST and WebSocket
    result = subprocess.run(
        [
            sys.executable,
            str(SMOKE),
            "--base-url",
            live_server_url,
            "--admin-user",
            "smoke-staff",
            "--admin-password",
            "smoke-pw",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Then every step passes
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
