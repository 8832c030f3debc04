"""The routing generations: sequences that routing bumps when a group may have work
(sessions_app/routing/lock.py); groups share them by id, GENERATION_SLOTS of them."""

from django.db import migrations

SLOTS = 128  # sessions_app.routing.lock.GENERATION_SLOTS


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for slot in range(SLOTS):
            schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS routing_generation_{slot}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for slot in range(SLOTS):
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS routing_generation_{slot}")


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0005_sessions_in_default_group")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
