"""GET /healthz: is the database there, is Redis there."""

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

log = logging.getLogger(__name__)


def _database_ok() -> bool:
    pool = getattr(connection, "pool", None)
    if pool is not None:
        return _pooled_database_ok(pool)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        log.warning("healthz: database check failed", exc_info=True)
        connection.close()  # a broken connection must not serve the next request
        return False


def _pooled_database_ok(pool) -> bool:
    """A connection from the pool within a second: a dead database must not hold the check for
    the pool's whole wait (a load balancer gives up first and sees no answer at all)."""
    import psycopg

    timeout = float(getattr(settings, "HEALTHZ_DATABASE_TIMEOUT", 1.0))
    try:
        pool.open()
        with pool.connection(timeout=timeout) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        log.warning("healthz: database check failed", exc_info=True)
        return False


def _redis_ok() -> bool:
    timeout = float(getattr(settings, "HEALTHZ_REDIS_TIMEOUT", 1.0))
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        log.warning("healthz: redis check failed", exc_info=True)
        return False
    finally:
        client.close()


HEALTH = inline_serializer(
    "Health",
    {
        "database": serializers.ChoiceField(choices=["ok", "down"]),
        "redis": serializers.ChoiceField(choices=["ok", "down"]),
    },
)


class HealthView(APIView):
    """Is the database there, is Redis there: 200 when both answer, 503 naming what is down."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="healthz",
        responses={
            200: OpenApiResponse(HEALTH, description="Both answer."),
            503: OpenApiResponse(HEALTH, description="Something is down: its value is `down`."),
        },
        auth=[],
        tags=["health"],
    )
    def get(self, request):
        checks = {
            "database": "ok" if _database_ok() else "down",
            "redis": "ok" if _redis_ok() else "down",
        }
        healthy = all(value == "ok" for value in checks.values())
        return Response(checks, status=200 if healthy else 503)
