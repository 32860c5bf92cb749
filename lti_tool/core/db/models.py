"""The schema. One module so that the web app, the workers and Alembic see the same tables.

Every row that belongs to a course is reached through its platform, so two platforms that reuse
the same context or user id never see each other's data.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_revision() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database. SQLite keeps no time zone and hands
    back naive values; this column type gives them back as the UTC they were stored in, so no
    caller needs to repair them."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


TS = UtcDateTime()


class PlatformStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    disabled = "disabled"


class KeyStatus(enum.StrEnum):
    active = "active"
    retired = "retired"


class EventStatus(enum.StrEnum):
    stored = "stored"  # committed with its answer, not yet on the queue
    enqueued = "enqueued"
    processed = "processed"
    failed = "failed"


class PassbackStatus(enum.StrEnum):
    """Where a student's newest score stands with the LMS. Only `verified` means the LMS's own
    result was read back and matches; `sent` is an accepted POST not read back yet."""

    pending = "pending"  # computed (or to be sent again), not posted yet
    sent = "sent"  # the LMS accepted the POST; its result not yet read back
    verified = "verified"  # the LMS's result matches the newest score Metis computed
    mismatch = "mismatch"  # the LMS holds another score and the automatic resends ran out
    failed = "failed"  # refused for good, or given up after the last retry


class ModelStatus(enum.StrEnum):
    candidate = "candidate"
    active = "active"
    retired = "retired"
    rejected = "rejected"


# --- LTI registrations -------------------------------------------------------------------


class Platform(Base):
    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    # Token audience for the client-credentials grant when it differs from the token URL.
    auth_audience: Mapped[str | None] = mapped_column(String(1000), default=None)
    status: Mapped[PlatformStatus] = mapped_column(
        Enum(PlatformStatus, native_enum=False, length=20), default=PlatformStatus.pending
    )
    product_family_code: Mapped[str] = mapped_column(String(100), default="")
    registered_via: Mapped[str] = mapped_column(String(20), default="manual")
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(back_populates="platform")


class Deployment(Base):
    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(TS, default=None)

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class ToolKey(Base):
    """An RSA key the tool signs with; retired keys stay in the JWKS for a grace period."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[KeyStatus] = mapped_column(
        Enum(KeyStatus, native_enum=False, length=20), default=KeyStatus.active
    )
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(TS, default=None)


class RegistrationToken(Base):
    """A single-use, expiring dynamic-registration URL handed to an LMS admin."""

    __tablename__ = "registration_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform.id", ondelete="SET NULL"), default=None
    )


# --- Courses, people, launches -----------------------------------------------------------


class Context(Base):
    __tablename__ = "context"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="SET NULL"), default=None
    )
    context_id: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    # The NRPS claim of the latest launch, so teacher pages can read the roster later.
    memberships_url: Mapped[str | None] = mapped_column(String(1000), default=None)


class User(Base):
    """A person on one platform, keyed by `sub`; names/email only when the platform shares them."""

    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    given_name: Mapped[str | None] = mapped_column(String(255), default=None)
    family_name: Mapped[str | None] = mapped_column(String(255), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)


class ItemBank(Base):
    __tablename__ = "item_bank"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform.id", ondelete="CASCADE"), default=None
    )
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("context.id", ondelete="CASCADE"), default=None
    )
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    # Deleted by the teacher: hidden from the bank pages and never offered again, but kept so
    # that answers already given still show their questions (see itembank.offered).
    archived_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    # A new random token whenever the bank or one of its questions changes (set on flush by
    # db.revisions): a worker keeps a loaded bank while it stands. NULL: never cached.
    revision: Mapped[str | None] = mapped_column(String(32), default=new_revision)


class Skill(Base):
    __tablename__ = "skill"
    __table_args__ = (UniqueConstraint("bank_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("item_bank.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))


class Item(Base):
    """A question. `answer` holds what the server grades against (never sent to the browser).

    `text`, `choices`, `feedback`, `hints` and `solution` hold HTML that was sanitised when the
    item was imported, so pages may render them as markup. `feedback` keys (all optional):
    "general" (shown after any answer), "correct", "incorrect", and "choices" (a list parallel to
    `choices`, or for typed answers a list of {"match": ..., "feedback": ...}).
    """

    __tablename__ = "item"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("item_bank.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    name: Mapped[str] = mapped_column(String(255), default="")
    # The bank's category path ("Top/Fractions/Adding"), kept to export back to Moodle XML.
    category: Mapped[str] = mapped_column(String(1000), default="")
    kind: Mapped[str] = mapped_column(String(30), default="multichoice")
    text: Mapped[str] = mapped_column(Text, default="")
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    feedback: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hints: Mapped[list[Any]] = mapped_column(JSON, default=list)
    solution: Mapped[str] = mapped_column(Text, default="")
    skill_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    difficulty_prior: Mapped[float | None] = mapped_column(Float, default=None)
    # Deleted from its bank (or its bank deleted): never offered in a new set; old answers
    # keep it (see itembank.offered).
    archived_at: Mapped[datetime | None] = mapped_column(TS, default=None)


class Activity(Base):
    """A practice activity created by deep linking; `settings` holds the teacher's choices."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    bank_id: Mapped[int | None] = mapped_column(
        ForeignKey("item_bank.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(String(255))
    points: Mapped[float] = mapped_column(Float, default=10.0)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class ResourceLink(Base):
    """A placement of Metis in one course: its id is unique only within its platform,
    deployment and course (LTI 1.3 core), so all four make the key."""

    __tablename__ = "resource_link"
    __table_args__ = (
        UniqueConstraint(
            "platform_id",
            "deployment_id",
            "context_id",
            "resource_link_id",
            name="uq_resource_link_placement",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    # NULL only for links recorded before deployments were part of the key (migration 0005).
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="SET NULL"), default=None
    )
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(String(500), default="")
    # AGS claim of the latest launch: what a worker needs to post scores without a request.
    lineitem_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    lineitems_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    ags_scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Launch(Base):
    __tablename__ = "launch"

    id: Mapped[int] = mapped_column(primary_key=True)
    launch_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_uuid)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), default=None
    )
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("context.id", ondelete="CASCADE"), default=None
    )
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"), default=None
    )
    message_type: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))  # learner | instructor | admin
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


# --- Answers and the grade-event pipeline ------------------------------------------------


def _credit_of_correct(context: Any) -> float:
    # A row stored without a credit (written before partial credit) earns all or nothing.
    return 1.0 if context.get_current_parameters().get("correct") else 0.0


class Answer(Base):
    __tablename__ = "answer"
    __table_args__ = (Index("ix_answer_user_activity", "user_id", "activity_id", "answered_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Full credit only (what the student model learns from); `credit` is the share of the
    # question's marks the answer earned (partial credit), what the gradebook score counts.
    correct: Mapped[bool] = mapped_column(Boolean)
    credit: Mapped[float] = mapped_column(Float, default=_credit_of_correct)
    answered_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class GradeEvent(Base):
    """The outbox row: stored with its answer in one transaction, relayed to Redis after."""

    __tablename__ = "grade_event"
    __table_args__ = (Index("ix_grade_event_status", "status", "created_at"),)

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    # Where the answer was given: the deployment (whose answers retrain its own model) and the
    # resource link (whose line item receives the score).
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="SET NULL"), default=None
    )
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_link.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=20), default=EventStatus.stored
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class PracticeSet(Base):
    __tablename__ = "practice_set"
    __table_args__ = (Index("ix_practice_set_user_activity", "user_id", "activity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    # The event that produced it; unique so a redelivered event cannot make a second set.
    event_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=None)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    feedback: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Where the worker's time went for this set (read by `metis bench pipeline`).
    timings_ms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class ScorePassback(Base):
    """The gradebook state per student and activity; an older score never overwrites a newer."""

    __tablename__ = "score_passback"
    __table_args__ = (UniqueConstraint("user_id", "activity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_link.id", ondelete="SET NULL"), default=None
    )
    score_given: Mapped[float] = mapped_column(Float, default=0.0)
    score_maximum: Mapped[float] = mapped_column(Float, default=1.0)
    # When the newest answer counted in the score was given (not what is sent to the LMS).
    score_timestamp: Mapped[datetime] = mapped_column(TS, default=utcnow)
    event_id: Mapped[str | None] = mapped_column(String(36), default=None)
    status: Mapped[PassbackStatus] = mapped_column(
        Enum(PassbackStatus, native_enum=False, length=20), default=PassbackStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    # The last timestamp posted to the LMS: every post is stamped when it is sent, strictly
    # after this one (the LMS refuses a score that is not newer than the grade it holds).
    sent_timestamp: Mapped[datetime | None] = mapped_column(TS, default=None)
    # What the LMS's result said when last read back, in this row's points (None: no grade).
    lms_score: Mapped[float | None] = mapped_column(Float, default=None)
    checked_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    verified_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    # Automatic resends after a read-back found another score, for the current score.
    repairs: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(TS, default=utcnow, onupdate=utcnow)


class AdminAccount(Base):
    """A local administrator (`metis admin create`), for admins who do not come from an LMS."""

    __tablename__ = "admin_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(TS, default=None)


class ModelVersion(Base):
    __tablename__ = "model_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[ModelStatus] = mapped_column(
        Enum(ModelStatus, native_enum=False, length=20), default=ModelStatus.candidate
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(TS, default=None)
