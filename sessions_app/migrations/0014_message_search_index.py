"""Full-text search over message bodies (PostgreSQL): a GIN index on the same expression the
search filters on (sessions_app/selectors.py, `sessions_matching`). SQLite searches with a
plain `icontains` and gets no index."""

from django.db import migrations

INDEX = "message_body_search"
EXPRESSION = "to_tsvector('simple'::regconfig, COALESCE(body, ''))"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON sessions_app_message USING gin ({EXPRESSION})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0013_customer_context")]
    operations = [migrations.RunPython(create, drop)]
