"""Attachments: upload checks (type from the bytes, size), who may download, how it is served."""

import io
import os
import struct
import zlib

import pytest
from django.conf import settings as django_settings

from sessions_app.actions.end import session_end
from sessions_app.actions.offers import offer_accept
from sessions_app.models import Attachment
from tests.api.conftest import client_for, customer_client

pytestmark = pytest.mark.django_db


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real PNG, orange, of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\xf0\x80\x20" * width) * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'


def upload(client, session, name: str, data: bytes):
    file = io.BytesIO(data)
    file.name = name
    return client.post(
        f"/api/sessions/{session.pk}/attachments/", {"file": file}, format="multipart"
    )


@pytest.fixture
def chat(service_settings, make_agent, make_session):
    """Alice serves Maria: (session, alice, Maria's token)."""
    alice = make_agent()
    session, token = make_session(name="Maria")
    offer_accept(session_id=session.pk, agent=alice)
    return session, alice, token


def test_an_image_from_the_customer_reaches_the_agent_inline_and_no_one_else(
    chat, make_agent, make_session, staff, anon
):
    session, alice, token = chat
    sent = upload(customer_client(token), session, "photo.png", png_bytes())
    assert sent.status_code == 201, sent.content
    message = sent.json()
    attachment = message["attachment"]
    assert (message["sender"], message["body"]) == ("customer", "photo.png")
    assert (attachment["content_type"], attachment["size"]) == ("image/png", len(png_bytes()))
    url = attachment["url"]
    # Its agent sees it inline, with its real type, never sniffed
    got = client_for(alice.user).get(url)
    assert got.status_code == 200
    assert got["Content-Type"] == "image/png"
    assert got["X-Content-Type-Options"] == "nosniff"
    assert not got.get("Content-Disposition", "").startswith("attachment")
    assert b"".join(got.streaming_content) == png_bytes()
    # Its customer, with the token in the query or the header; staff too
    assert anon.get(f"{url}?token={token}").status_code == 200
    assert customer_client(token).get(url).status_code == 200
    assert staff.get(url).status_code == 200
    # Nobody else: another agent, another customer, anonymous, a wrong token
    _, other_token = make_session(name="Other")
    assert client_for(make_agent().user).get(url).status_code == 404
    assert customer_client(other_token).get(url).status_code == 404
    assert anon.get(url).status_code == 404
    assert anon.get(f"{url}?token=wrong").status_code == 404
    assert anon.get("/api/attachments/not-a-uuid/").status_code == 404


def test_type_is_judged_from_the_bytes_not_the_name(chat):
    session, alice, token = chat
    agent = client_for(alice.user)
    # A PNG named .pdf is a PNG, and downloads as .png
    renamed = upload(agent, session, "scan.pdf", png_bytes())
    assert renamed.status_code == 201, renamed.content
    assert renamed.json()["attachment"]["content_type"] == "image/png"
    assert renamed.json()["attachment"]["name"] == "scan.png"
    # HTML named .png, or .txt, and SVG, are refused
    for name, data in (("cute.png", HTML), ("notes.txt", HTML), ("logo.svg", SVG)):
        refused = upload(agent, session, name, data)
        assert (refused.status_code, refused.json()["code"]) == (415, "unsupported_type"), name
    # A PDF and plain text are fine; they download as files, never inline
    pdf = upload(agent, session, "invoice.pdf", PDF).json()["attachment"]
    text = upload(agent, session, "log.txt", "déjà vu\n".encode()).json()["attachment"]
    assert (pdf["content_type"], text["content_type"]) == ("application/pdf", "text/plain")
    for item in (pdf, text):
        got = agent.get(item["url"])
        assert got["Content-Disposition"].startswith("attachment")
        assert got["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in got["Content-Security-Policy"]
    assert Attachment.objects.filter(session=session).count() == 3


def test_one_byte_over_the_limit_is_413_and_the_limit_itself_is_fine(chat, settings):
    session, _, token = chat
    settings.ATTACHMENT_MAX_BYTES = 1000
    client = customer_client(token)
    assert upload(client, session, "ok.txt", b"a" * 1000).status_code == 201
    over = upload(client, session, "big.txt", b"a" * 1001)
    assert (over.status_code, over.json()["code"]) == (413, "too_large")
    empty = upload(client, session, "empty.txt", b"")
    assert empty.status_code == 400


def test_a_name_with_folders_or_controls_is_harmless(chat):
    session, alice, _ = chat
    sent = upload(client_for(alice.user), session, "../../etc/\u202epasswd.txt", b"root:x:0")
    assert sent.status_code == 201, sent.content
    assert sent.json()["attachment"]["name"] == "passwd.txt"
    stored = Attachment.objects.get(session=session)
    # Stored under a name of our own, inside the attachments folder
    assert stored.file.name.startswith(f"{session.pk}/") and ".." not in stored.file.name
    root = os.path.realpath(os.path.join(django_settings.MEDIA_ROOT, "attachments"))
    assert os.path.realpath(stored.file.path).startswith(root + os.sep)


def test_only_the_serving_agent_while_active_and_the_customer_until_the_end(
    chat, make_agent, make_session
):
    session, alice, token = chat
    stranger = client_for(make_agent().user)
    assert upload(stranger, session, "x.txt", b"hi").status_code == 404
    no_file = client_for(alice.user).post(
        f"/api/sessions/{session.pk}/attachments/", {}, format="multipart"
    )
    assert (no_file.status_code, no_file.json()["field"]) == (400, "file")
    session_end(session_id=session.pk, reason="customer_ended")
    late = upload(customer_client(token), session, "x.txt", b"hi")
    assert (late.status_code, late.json()["code"]) == (409, "session_ended")
    assert upload(client_for(alice.user), session, "x.txt", b"hi").status_code == 409
    assert not Attachment.objects.filter(session=session).exists()
