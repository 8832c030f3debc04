"""Item 6: `make run` says DEBUG is on, and /api/ answers JSON whatever DEBUG is."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_paths_are_json_404s(client, settings, debug):
    settings.DEBUG = debug
    for path in ("/api/nope/", "/api/sessions/x/y/z/", "/api/"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Not found.", "code": "not_found"}


def test_the_start_banner_warns_while_debug_is_on(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("desk_banner", stdout=out)
    assert "DEBUG is on" in out.getvalue() and "DEBUG=false" in out.getvalue()
    assert "/workspace/" in out.getvalue()
    settings.DEBUG = False
    out = io.StringIO()
    call_command("desk_banner", stdout=out)
    assert "DEBUG is on" not in out.getvalue()
