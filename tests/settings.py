"""Test settings: PostgreSQL and a Redis database of their own unless the environment says else."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))
os.environ.setdefault("REDIS_PREFIX", "cctest")
os.environ.setdefault("TIMER_SWEEP_SECONDS", "1")
# Every test talks from 127.0.0.1 to one shared daphne: production rates would throttle the
# suite itself. Throttle tests set their own low rates.
os.environ.setdefault("THROTTLE_SESSION_CREATE", "100000/minute")
os.environ.setdefault("THROTTLE_CUSTOMER_MESSAGE", "100000/minute")
os.environ.setdefault("THROTTLE_AUTH_TOKEN", "100000/minute")
os.environ.setdefault("THROTTLE_OFFLINE_MESSAGE", "100000/minute")
# Webhook tests deliver to receivers on 127.0.0.1; the guard's tests turn this off.
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")
# Retries within seconds, not minutes; the pump triggered often.
os.environ.setdefault("WEBHOOK_BACKOFF_SECONDS", "0.5")
os.environ.setdefault("WEBHOOK_PUMP_SECONDS", "1")
os.environ.setdefault("WEBHOOK_TIMEOUT_SECONDS", "2")
# This process reads the webhooks once and again after its own changes (the actions say so),
# so tests that count statements see none of it; the servers it starts read them every time.
os.environ.setdefault("WEBHOOK_SUBSCRIPTIONS_TTL", "3600")
# Playwright's sync API runs an event loop in the test thread; the ORM must still work there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Uploaded files of the whole run (test processes and the servers they start) in one folder
# outside the checkout.
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="cc-test-media-"))

from contactcenter.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
