"""A small course seeded straight into the database: one platform, deployment, context,
activity with a bank of items, and learners."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lti_tool.core.answers.submit import Learner
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    Context,
    Deployment,
    Item,
    ItemBank,
    Platform,
    PlatformStatus,
    ResourceLink,
    Skill,
    User,
)


@dataclass
class Course:
    platform_id: int
    deployment_id: int
    context_id: int
    activity_id: int
    resource_link_id: int
    item_ids: list[int]
    user_ids: list[int]

    def learner(self, n: int = 0) -> Learner:
        return Learner(self.platform_id, self.deployment_id, self.context_id, self.activity_id,
                       self.user_ids[n], self.resource_link_id)


def seed_course(db: Database, *, students: int = 2, items: int = 6,
                lineitem_url: str | None = "https://lms.example/lineitems/1?type=x",
                platform_id: int | None = None) -> Course:
    with db.session() as s:
        if platform_id is None:
            platform = Platform(
                name="Test LMS", issuer="https://lms.example", client_id="tool-1",
                auth_login_url="https://lms.example/auth",
                auth_token_url="https://lms.example/token",
                key_set_url="https://lms.example/jwks", status=PlatformStatus.active,
            )
            s.add(platform)
            s.flush()
        else:
            platform = s.get(Platform, platform_id)  # type: ignore[assignment]
        dep = Deployment(platform_id=platform.id, deployment_id="pipeline-d1", active=True)
        ctx = Context(platform_id=platform.id, context_id="c1", title="Algebra")
        bank = ItemBank(platform_id=platform.id, name="Algebra bank")
        s.add_all([dep, ctx, bank])
        s.flush()
        skills = [Skill(bank_id=bank.id, name=f"skill {k}") for k in range(3)]
        s.add_all(skills)
        s.flush()
        rows = [
            Item(bank_id=bank.id, kind="multichoice", text=f"What is {n} + {n}?",
                 choices=[str(2 * n), str(2 * n + 1), str(2 * n - 1)], answer={"choice": 0},
                 skill_ids=[skills[n % 3].id])
            for n in range(1, items + 1)
        ]
        s.add_all(rows)
        activity = Activity(platform_id=platform.id, context_id=ctx.id, bank_id=bank.id,
                            title="Practice", points=10.0, settings={"set_size": 3})
        s.add(activity)
        s.flush()
        link = ResourceLink(platform_id=platform.id, context_id=ctx.id, resource_link_id="rl1",
                            activity_id=activity.id, lineitem_url=lineitem_url)
        s.add(link)
        users = []
        for n in range(students):
            sub = f"10{n + 1}"  # the demo platform's learners, who may have launched already
            user = s.query(User).filter_by(platform_id=platform.id, sub=sub).first()
            if user is None:
                user = User(platform_id=platform.id, sub=sub, name=f"Student {n}")
                s.add(user)
            users.append(user)
        s.flush()
        return Course(platform.id, dep.id, ctx.id, activity.id, link.id,
                      [r.id for r in rows], [u.id for u in users])


@pytest.fixture()
def course(db: Database) -> Course:
    """A small course seeded straight into the test's database."""
    return seed_course(db)
