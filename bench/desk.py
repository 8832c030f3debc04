"""A desk for the in-process benches: Django set up on a fresh database, agents and skill
groups made in bulk.

`setup` (and `fresh_database`) run before Django is set up; the others after.
"""

import os
import uuid


def add_store_arguments(parser, database: str, redis_db: int) -> None:
    """--database-url and --redis-url, defaulting to a database and a Redis db of the bench's
    own (BENCH_DATABASE_URL, BENCH_REDIS_URL override). The database is dropped and made again."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}"
        ),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}"),
    )


def setup(database_url: str, redis_url: str, prefix: str) -> None:
    """Django as in production, on a database made afresh (migrated) and a Redis prefix of
    this run's own."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="contactcenter.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"{prefix}{uuid.uuid4().hex[:6]}",
        LOG_LEVEL="WARNING",
        # As in production (and bench/topology.py): with DEBUG on, Django also formats and
        # keeps every statement it runs, which costs more than some statements do.
        DEBUG="0",
        SECRET_KEY="bench-" + uuid.uuid4().hex * 2,
        ALLOWED_HOSTS="localhost",
    )
    fresh_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_database(url: str) -> None:
    """Drop and create the bench database, so no earlier run's agents or sessions take part."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_agents(count: int, prefix: str) -> list:
    """Online agents with room for every session of the run, made in bulk."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from agents_app.models import Agent

    User = get_user_model()
    password = make_password("bench")
    users = User.objects.bulk_create(
        [User(username=f"{prefix}{i}", password=password) for i in range(count)]
    )
    return Agent.objects.bulk_create(
        [Agent(user=u, display_name=u.username, status="online", max_sessions=100) for u in users]
    )


def make_groups(agents: list, count: int, prefix: str) -> list:
    """`count` groups sharing the agents out evenly, priorities 1 to 5 in turn."""
    from skills_app.models import SkillGroup, SkillGroupMember

    groups = SkillGroup.objects.bulk_create([SkillGroup(name=f"{prefix}{g}") for g in range(count)])
    per = len(agents) // count
    SkillGroupMember.objects.bulk_create(
        [
            SkillGroupMember(group=groups[i // per], agent=agent, priority=1 + i % 5)
            for i, agent in enumerate(agents[: per * count])
        ]
    )
    return groups
