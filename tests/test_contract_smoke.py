"""The shared contract smoke tests (../shared/contract-smoke/: smoke.py for v1, smoke_v2.py for
v2) against a live server."""

import subprocess
import sys
from pathlib import Path

import pytest

SMOKES = Path(__file__).resolve().parents[1].parent / "shared" / "contract-smoke"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("script", ["smoke.py", "smoke_v2.py"])
def test_contract_smoke_passes_against_the_live_server(
    script,
    live_server_url,
    celery_worker,
    celery_beat,
    webhook_worker,
    service_settings,
    django_user_model,
):
    smoke = SMOKES / script
    if not smoke.exists():
        pytest.skip(f"the contract smoke test is not at {smoke}")
    # Given a staff user on a desk with no agent online
    django_user_model.objects.create_user("smoke-staff", password="smoke-pw", is_staff=True)

    # When the smoke walks the contract over REST and WebSocket
    result = subprocess.run(
        [
            sys.executable,
            str(smoke),
            "--base-url",
            live_server_url,
            "--admin-user",
            "smoke-staff",
            "--admin-password",
            "smoke-pw",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )

    # Then every step passes
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
