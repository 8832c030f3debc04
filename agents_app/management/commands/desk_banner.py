"""What `make run` prints once the desk starts: its URLs, and a warning while DEBUG is on."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand

DEBUG_WARNING = """
  DEBUG is on (the default of `make run`): error pages show code and settings, a development
  SECRET_KEY is in use and only this machine's names are allowed hosts. For anything but a
  laptop set DEBUG=false, SECRET_KEY and ALLOWED_HOSTS (README, "Configuration").
"""


class Command(BaseCommand):
    help = "Print the desk's URLs (and say so when DEBUG is on)."

    def handle(self, *args, **options):
        host = os.environ.get("HOST", "127.0.0.1")
        base = f"http://{host}:{os.environ.get('PORT', '8000')}"
        shop = f"http://{host}:{os.environ.get('DEMO_PORT', '8001')}"
        if settings.DEBUG:
            self.stdout.write(DEBUG_WARNING)
        self.stdout.write(
            f"""
  Contact center is starting on {base}/
    Agent workspace : {base}/workspace/
    Customer chat   : {base}/chat/
    Wallboard       : {base}/supervisor/  (reports: {base}/supervisor/reports/)
    Admin           : {base}/admin/
    REST API docs   : {base}/api/docs/
    Widget demo shop: {shop}/  (the chat embedded on another origin)
  Stop with Ctrl-C.
"""
        )
