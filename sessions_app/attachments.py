"""What an uploaded file is, judged from its bytes; and the name it may be downloaded as.

Allowed: PNG, JPEG, GIF and WebP images, PDF, and plain UTF-8 text. The type comes from the
file's first bytes (`filetype`'s magic numbers); text is what is valid UTF-8 with no NUL and no
markup a browser would run (HTML, SVG, XML), so an HTML page renamed `.png` or `.txt` is
refused, and a PNG renamed `.pdf` is a PNG (its download name gets `.png`). Whatever is
served, is served with `nosniff`; only images inline.
"""

import os
import re
import unicodedata

import filetype
from django.conf import settings

from core.errors import Invalid, TooLarge, UnsupportedType

IMAGES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
DOCUMENTS = {"application/pdf": "pdf", "text/plain": "txt"}
ALLOWED = {**IMAGES, **DOCUMENTS}
HEAD_BYTES = 8192  # enough for every signature above, and for the markup check
MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|\?xml|object|embed)", re.I)


def judge(head: bytes) -> str:
    """The content type of a file that starts with `head`, or UnsupportedType."""
    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime in ALLOWED:
            return kind.mime
        raise UnsupportedType(f"Files of type {kind.mime} cannot be sent.", field="file")
    if _is_text(head):
        return "text/plain"
    raise UnsupportedType(
        "Send an image (PNG, JPEG, GIF, WebP), a PDF or a plain text file.", field="file"
    )


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head or MARKUP.search(head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end inside a multi-byte character: only that is forgiven.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def clean_name(name: str | None, content_type: str) -> str:
    """The name to download it as: no folders, no control or bidi characters, at most 120
    characters, ending in the extension of its real type."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    stem = os.path.splitext(base)[0].strip(" .") or "file"
    return f"{stem[:110]}.{ALLOWED[content_type]}"


def checked(upload) -> tuple[str, str]:
    """(content type, download name) of an upload within the size limit and of an allowed
    type; TooLarge (413) or UnsupportedType (415) otherwise."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise TooLarge(f"A file is at most {limit} bytes.", field="file")
    if upload.size == 0:
        raise Invalid("The file is empty.", field="file")
    upload.seek(0)
    content_type = judge(upload.read(HEAD_BYTES))
    upload.seek(0)
    return content_type, clean_name(upload.name, content_type)


def is_image(content_type: str) -> bool:
    return content_type in IMAGES
