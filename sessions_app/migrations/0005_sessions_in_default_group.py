"""Existing sessions belong to the default group; the desk-wide routing generation goes (each
group has its own now)."""

from django.db import migrations


def forward(apps, schema_editor):
    SkillGroup = apps.get_model("skills_app", "SkillGroup")
    ChatSession = apps.get_model("sessions_app", "ChatSession")
    default = SkillGroup.objects.filter(is_default=True).first()
    if default is not None:
        ChatSession.objects.filter(skill_group__isnull=True).update(skill_group=default)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS sessions_app_routing_generation")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS sessions_app_routing_generation")


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0004_skill_groups_overflow_decline"),
        ("skills_app", "0002_default_group"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
