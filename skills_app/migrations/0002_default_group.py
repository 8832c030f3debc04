"""The default group, "General", with every agent in it."""

from django.db import migrations


def create(apps, schema_editor):
    SkillGroup = apps.get_model("skills_app", "SkillGroup")
    Member = apps.get_model("skills_app", "SkillGroupMember")
    Agent = apps.get_model("agents_app", "Agent")
    group = SkillGroup.objects.filter(is_default=True).first()
    if group is None:
        group, _ = SkillGroup.objects.get_or_create(
            name="General", defaults={"is_default": True, "is_public": True}
        )
    Member.objects.bulk_create(
        [Member(group=group, agent=agent, priority=3) for agent in Agent.objects.all()],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("skills_app", "0001_initial"), ("agents_app", "0003_status_reason_missed_offers")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop, elidable=False)]
