"""Uploads through the real daphne: a file over the JSON body limit goes through; a malformed
multipart body gets Django's JSON 400, not Twisted's empty one."""

import pytest
import requests

from tests.api.test_attachments_api import png_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

BOUNDARY = "c637e12e2b1a998d80d1b087531af51c"


def test_a_two_megabyte_image_goes_through_daphne_and_a_broken_body_gets_json(
    live_server_url, service_settings, make_agent, make_session
):
    make_agent()
    session, token = make_session()
    url = f"{live_server_url}/api/sessions/{session.pk}/attachments/"
    headers = {"X-Customer-Token": token}
    # A PNG padded to 2 MB: more than the 1 MB every other request body may have
    big = png_bytes(64, 64) + b"\0" * (2 * 1024 * 1024)
    sent = requests.post(url, files={"file": ("big.png", big)}, headers=headers, timeout=30)
    assert sent.status_code == 201, sent.text
    assert sent.json()["attachment"]["size"] == len(big)
    # A multipart body with no parts at all
    broken = requests.post(
        url,
        data=f"--{BOUNDARY}--\r\n".encode(),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        timeout=10,
    )
    assert broken.status_code == 400, broken.text
    assert broken.headers["Content-Type"] == "application/json"
    assert broken.json()["field"] == "file"
