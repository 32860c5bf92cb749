"""The platform's state, in memory: keys, users, one course, links, line items, scores, faults.

Tests reach into it (same process) to shape the next launch or to inject service faults.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
STORAGE_FRAME = "post_message_forwarding"
ADMIN_ROLES = [
    INSTRUCTOR,
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
]


STORE_KEY = "platform.store"  # where the app keeps its store (app.extensions)


def platform_store() -> PlatformStore:
    """The store of the demo LMS app handling this request."""
    store: PlatformStore = current_app.extensions[STORE_KEY]
    return store


def new_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass
class ToolEndpoints:
    login_url: str
    launch_url: str
    jwks_url: str
    deep_link_url: str | None = None
    redirect_uris: list[str] = field(default_factory=list)

    def allowed_redirects(self) -> list[str]:
        return self.redirect_uris or [self.launch_url]


@dataclass
class LaunchTweaks:
    """How the next id_token(s) deviate from a correct one; every negative case is one of these."""

    set_claims: dict[str, Any] = field(default_factory=dict)
    # (claim, field) -> value: one field inside a claim object, the rest of it kept.
    set_fields: dict[tuple[str, str], Any] = field(default_factory=dict)
    drop_claims: list[str] = field(default_factory=list)
    header: dict[str, Any] | None = None  # replaces the JWT header entirely (e.g. no kid)
    sign_with_other_key: bool = False
    kid: str | None = None
    exp_in_s: int | None = 60  # None: no exp claim
    iat_offset_s: int = 0
    omit_iat: bool = False
    raw_id_token: str | None = None  # sent as is (e.g. not a JWT at all)
    state: str | None = None  # answer with another state


@dataclass
class Member:
    user_id: str
    name: str
    email: str
    roles: list[str]


@dataclass
class LineItem:
    id: str
    label: str
    score_maximum: float
    resource_id: str = ""
    resource_link_id: str | None = None
    tag: str = ""
    end_date_time: str | None = None  # ISO 8601 with a time zone, as the tool sent it
    # userId -> the stored grade (Moodle keeps one grade per user and line item)
    results: dict[str, Grade] = field(default_factory=dict)


@dataclass
class Grade:
    """One stored grade, as Moodle's grade_grades row holds it.

    `timemodified` is the platform's own clock, in whole seconds, when it processed the score
    that last changed the grade (Moodle's `update_raw_grade` sets `time()`, not the score's
    timestamp); None when the grade was cleared. A later score is refused (409) unless its
    timestamp, in whole seconds, is newer than that.
    """

    result_score: float | None  # points out of the line item's maximum; None: no grade
    comment: str | None
    timemodified: int | None
    timestamp: str  # the score's own timestamp, as the tool sent it

    @property
    def graded_at(self) -> str | None:
        """`timemodified` as ISO 8601 (what Moodle's results service calls `timestamp`)."""
        if self.timemodified is None:
            return None
        return datetime.fromtimestamp(self.timemodified, UTC).isoformat()


@dataclass(frozen=True)
class People:
    """The course's members by what the course page offers them: practice, teacher tools, or
    the tool's admin pages (an administrator is also an instructor, and is listed once)."""

    learners: list[Member]
    teachers: list[Member]
    admins: list[Member]


@dataclass(frozen=True)
class GradebookCell:
    """One member's latest result on one line item, as the gradebook page shows it."""

    given: float | None  # None: no grade (never sent, or cleared by the tool)
    maximum: float
    timestamp: str | None = None
    comment: str | None = None

    @property
    def text(self) -> str:
        return "—" if self.given is None else f"{round(self.given, 2):g} / {self.maximum:g}"


@dataclass(frozen=True)
class GradebookRow:
    member: Member
    cells: list[GradebookCell]


@dataclass
class ResourceLink:
    id: str
    title: str
    custom: dict[str, str]
    lineitem_id: str | None


@dataclass(frozen=True)
class PendingLogin:
    """What Moodle keeps in `$SESSION->$launchid` between its login form and auth.php: the
    launch the hint stands for, for one platform session only."""

    session: str
    user: str
    kind: str  # "resource" | "deep_link"
    link: str | None


class PlatformStore:
    def __init__(
        self,
        issuer: str,
        tool: ToolEndpoints | None = None,
        *,
        client_id: str = "metis-client",
        deployment_id: str = "1",
        context_id: str = "course-101",
        context_title: str = "Arithmetic 101",
        members_page_size: int = 2,
    ) -> None:
        self.lock = threading.RLock()
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.context_id = context_id
        self.context_title = context_title
        self.tool = tool
        self.members_page_size = members_page_size
        self.keys: list[tuple[str, str]] = [(uuid.uuid4().hex, new_private_pem())]
        self.other_key = (uuid.uuid4().hex, new_private_pem())  # never published
        self.members: dict[str, Member] = {}
        for uid, name, roles in (
            ("101", "Ada Learner", [LEARNER]),
            ("102", "Ben Learner", [LEARNER]),
            ("103", "Cleo Learner", [LEARNER]),
            ("201", "Tess Teacher", [INSTRUCTOR]),
            ("301", "Sam Admin", list(ADMIN_ROLES)),
        ):
            self.members[uid] = Member(uid, name, f"user{uid}@example.edu", roles)
        self.links: dict[str, ResourceLink] = {}
        self.lineitems: dict[str, LineItem] = {}
        self.tweaks = LaunchTweaks()
        self.tweaks_persist = False
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0
        self.score_faults: list[str] = []  # "500", "429", "hang"
        self.hang_s = 10.0
        # The platform's clock (Moodle's time()); a test may move it to play a slow or skewed LMS.
        self.clock: Callable[[], float] = time.time
        # Held scores: the next `hold_next` score POSTs wait, unprocessed, until release_scores()
        # (a busy LMS, or a request stuck in a proxy); `held` says how many are waiting now.
        self.hold_next = 0
        self.held = 0
        self.released = threading.Event()
        self.released.set()
        self.score_posts: list[dict[str, Any]] = []
        self.deep_link_responses: list[dict[str, Any]] = []
        # launchid -> the login it belongs to; auth takes each one once, like Moodle's auth.php.
        self.pending_logins: dict[str, PendingLogin] = {}
        # Every launchid presented to auth, in order, with whether it was accepted.
        self.auth_requests: list[tuple[str, bool]] = []
        self.share_names = True
        # The frame that answers LTI client-side postMessages (lti.put_data / lti.get_data); the
        # course page offers it as lti_storage_target. None: the platform offers no storage.
        self.storage_target: str | None = STORAGE_FRAME

    # --- keys ------------------------------------------------------------------------
    @property
    def signing_key(self) -> tuple[str, str]:
        return self.keys[-1]

    def rotate_key(self) -> None:
        with self.lock:
            self.keys.append((uuid.uuid4().hex, new_private_pem()))

    # --- launches --------------------------------------------------------------------
    def next_launch(self, tweaks: LaunchTweaks, *, persist: bool = False) -> None:
        with self.lock:
            self.tweaks, self.tweaks_persist = tweaks, persist

    def take_tweaks(self) -> LaunchTweaks:
        with self.lock:
            tweaks = self.tweaks
            if not self.tweaks_persist:
                self.tweaks = LaunchTweaks()
            return tweaks

    def issue_hint(self, session: str, user: str, kind: str, link: str | None) -> str:
        """A new launchid for one login form, kept for this platform session."""
        with self.lock:
            launchid = f"ltilaunch_{secrets.token_hex(6)}"
            self.pending_logins[launchid] = PendingLogin(session, user, kind, link)
            return launchid

    def take_hint(self, session: str, launchid: str) -> PendingLogin | None:
        """The login a launchid stands for, once, and only in the session that got it."""
        with self.lock:
            pending = self.pending_logins.get(launchid)
            accepted = pending is not None and pending.session == session
            self.auth_requests.append((launchid, accepted))
            if not accepted:
                return None
            return self.pending_logins.pop(launchid)

    def add_link(
        self,
        title: str,
        *,
        custom: dict[str, str] | None = None,
        score_maximum: float | None = None,
    ) -> ResourceLink:
        with self.lock:
            link_id = f"rl-{len(self.links) + 1}-{secrets.token_hex(3)}"
            lineitem_id = None
            if score_maximum is not None:
                lineitem_id = self.add_lineitem(title, score_maximum, link_id).id
            link = ResourceLink(link_id, title, dict(custom or {}), lineitem_id)
            self.links[link_id] = link
            return link

    def add_lineitem(
        self,
        label: str,
        score_maximum: float,
        resource_link_id: str | None = None,
        resource_id: str = "",
        tag: str = "",
    ) -> LineItem:
        with self.lock:
            item = LineItem(
                str(len(self.lineitems) + 1),
                label,
                float(score_maximum),
                resource_id,
                resource_link_id,
                tag,
            )
            self.lineitems[item.id] = item
            return item

    def people(self) -> People:
        with self.lock:
            members = list(self.members.values())
        admins = [m for m in members if any(r in m.roles for r in ADMIN_ROLES[1:])]
        teachers = [m for m in members if INSTRUCTOR in m.roles and m not in admins]
        learners = [m for m in members if LEARNER in m.roles and m not in admins + teachers]
        return People(learners, teachers, admins)

    def update_lineitem(
        self, item_id: str, *, label: str, score_maximum: float, end_date_time: str | None
    ) -> LineItem:
        """A PUT replaces the tool-owned fields; stored results keep their points (like Moodle,
        which rescales only when asked)."""
        with self.lock:
            item = self.lineitems[item_id]
            item.label = label
            item.score_maximum = float(score_maximum)
            item.end_date_time = end_date_time
            return item

    def gradebook(self) -> tuple[list[LineItem], list[GradebookRow]]:
        """Line items as columns, members as rows, each cell the latest stored result."""
        with self.lock:
            columns = list(self.lineitems.values())
            rows = []
            for member in self.members.values():
                found = [item.results.get(member.user_id) for item in columns]
                # Like Moodle's grader report: the learners, and anyone else who has a grade.
                if LEARNER not in member.roles and not any(found):
                    continue
                cells = []
                for item, result in zip(columns, found, strict=True):
                    if result is None:
                        cells.append(GradebookCell(None, item.score_maximum))
                        continue
                    cells.append(
                        GradebookCell(
                            result.result_score,
                            item.score_maximum,
                            result.graded_at,
                            result.comment,
                        )
                    )
                rows.append(GradebookRow(member, cells))
            return columns, rows

    # --- services --------------------------------------------------------------------
    def inject_score_faults(self, faults: list[str], hang_s: float = 10.0) -> None:
        with self.lock:
            self.score_faults = list(faults)
            self.hang_s = hang_s

    def next_score_fault(self) -> str | None:
        with self.lock:
            return self.score_faults.pop(0) if self.score_faults else None

    def now_s(self) -> int:
        """The platform's time in whole seconds, as Moodle's time() gives it."""
        return math.floor(self.clock())

    def hold_scores(self, count: int = 1) -> None:
        """Hold the next `count` score POSTs until release_scores()."""
        with self.lock:
            self.hold_next = count
            self.released.clear()

    def release_scores(self) -> None:
        with self.lock:
            self.hold_next = 0
            self.released.set()

    def wait_if_held(self, limit_s: float = 120.0) -> None:
        """Called by the score endpoint before it processes a score: wait while held."""
        with self.lock:
            if self.hold_next <= 0:
                return
            self.hold_next -= 1
            self.held += 1
        try:
            self.released.wait(limit_s)
        finally:
            with self.lock:
                self.held -= 1

    def save_score(self, item: LineItem, user_id: str, timestamp: datetime, raw_timestamp: str,
                   score: float | None, comment: str | None) -> bool:
        """Store a score as Moodle's gradebook services do; False when refused (409).

        Refused unless the score's timestamp, in whole seconds (PHP's strtotime), is newer than
        the stored grade's `timemodified`. The grade's time becomes the platform's clock when the
        score changes the grade or its feedback, and stays as it was when it changes neither
        (`update_raw_grade`); a cleared grade (no score, no comment) has no time.
        """
        with self.lock:
            previous = item.results.get(user_id)
            if previous is not None and previous.timemodified is not None \
                    and previous.timemodified >= math.floor(timestamp.timestamp()):
                return False
            comment = comment or None
            if score is None and comment is None:
                modified = None
            elif previous is None or previous.comment != comment or \
                    _rounded(previous.result_score) != _rounded(score):
                modified = self.now_s()
            else:
                modified = previous.timemodified
            item.results[user_id] = Grade(score, comment, modified, raw_timestamp)
            return True

    def revoke_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()


def _rounded(value: float | None) -> float | None:
    # Moodle compares grades to 5 decimals (grade_floats_different).
    return None if value is None else round(value, 5)
