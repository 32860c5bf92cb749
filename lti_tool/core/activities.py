"""A practice activity's settings: one typed object, parsed and validated once, used by the pages,
the gradebook rules and the workers alike.

`Activity.title` and `Activity.points` hold the title and the maximum points (the gradebook
column); the rest lives in the `Activity.settings` JSON, written by `ActivitySettings.settings_json`
with a `version`. `from_activity` is the only reader of that JSON: every other module receives the
typed object, never the raw dict (seven readers of one dict had drifted apart, with different
defaults). Settings stored before versions existed (version 1) are read as what they meant then:
no `grading` was the share of right answers in the gradebook, so it stays that, explicitly.

The form shows percentages (a teacher thinks "60 to 80% right", not "0.6"); the stored values
are fractions. No Flask and no database here: the checks that need the course's banks live in
`lti_tool.core.activity_store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol, cast

from lti_tool.core.db.models import Activity
from lti_tool.core.parsing import parse_float, parse_id, parse_int

SETTINGS_VERSION = 2

GradingPolicy = Literal["mastery", "best_set", "completion", "fraction_correct"]
GRADING_POLICIES: dict[str, str] = {
    "mastery": "Mastery: the share of the chosen skills the student has mastered",
    "best_set": "Best practice set: the student's best share of right answers in one set",
    "completion": "Completion: the number of answers, up to the goal",
    "fraction_correct": "Right answers: the share of all the student's answers that were right",
}
DEFAULT_GRADING: GradingPolicy = "mastery"
# Version 1 settings had no "grading" for the share of right answers.
LEGACY_GRADING: GradingPolicy = "fraction_correct"
SET_SIZE_RANGE = (1, 20)
BAND_RANGE = (0.05, 0.95)
THRESHOLD_RANGE = (0.5, 0.99)
GOAL_RANGE = (1, 1000)
TRIES_RANGE = (1, 3)
MAX_POINTS = 1000.0
MAX_TITLE = 255


class FormData(Protocol):
    """A submitted form (werkzeug's MultiDict has this shape): a field may come several times."""

    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str, /) -> list[str]: ...


class SettingsInvalid(ValueError):
    """The form has mistakes; `errors` maps each form field to a message for the teacher."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


@dataclass(frozen=True)
class ActivitySettings:
    title: str
    bank: str  # an ItemBank id, or "demo" for the course's copy of the built-in demo bank
    points: float = 10.0
    skills: tuple[int, ...] = ()  # Skill ids of the bank; empty: every skill
    categories: tuple[str, ...] = ()  # Item category paths; empty: every category
    set_size: int = 5
    band: tuple[float, float] = (0.6, 0.8)
    mastery_threshold: float = 0.8
    due: date | None = None
    grading: GradingPolicy = DEFAULT_GRADING
    goal: int = 20  # answers for full marks under "completion"
    # Tries per question of a set (Moodle's "interactive with multiple tries"): a question is
    # closed once answered right or tried this often; hints are offered between tries.
    tries: int = 1

    def settings_json(self) -> dict[str, Any]:
        """The `Activity.settings` JSON (title, points and bank have their own columns)."""
        return {
            "version": SETTINGS_VERSION,
            "set_size": self.set_size,
            "band": [self.band[0], self.band[1]],
            "mastery_threshold": self.mastery_threshold,
            "skills": list(self.skills),
            "categories": list(self.categories),
            "due": self.due.isoformat() if self.due else None,
            "grading": self.grading,
            "goal": self.goal,
            "tries": self.tries,
        }

    def apply_to(self, activity: Activity, bank_id: int) -> None:
        activity.title = self.title
        activity.points = self.points
        activity.bank_id = bank_id
        # Keys this form does not manage (set by other tools or later versions) are kept.
        activity.settings = {**(activity.settings or {}), **self.settings_json()}

    @property
    def end_date_time(self) -> str | None:
        """The due date as an LTI date-time: the end of that day in UTC."""
        return f"{self.due.isoformat()}T23:59:59Z" if self.due else None

    def gradebook_fields(self) -> tuple[str, float, str | None]:
        """What the LMS's gradebook column shows: a change means the line item needs updating."""
        return self.title, self.points, self.end_date_time

    def is_mastered(self, mastery: float) -> bool:
        """The one meaning of "mastered" in Metis: at or above this activity's threshold."""
        return mastery >= self.mastery_threshold

    def in_scope(self, item_skills: Iterable[int], item_category: str) -> bool:
        return item_in_scope(item_skills, item_category, self.skills, self.categories)

    def form_values(self) -> dict[str, Any]:
        """The values to show in the form (percentages, as the teacher typed them)."""
        return {
            "title": self.title,
            "bank": self.bank,
            "points": _plain(self.points),
            "skills": [str(k) for k in self.skills],
            "categories": list(self.categories),
            "set_size": str(self.set_size),
            "band_low": _plain(self.band[0] * 100),
            "band_high": _plain(self.band[1] * 100),
            "mastery_threshold": _plain(self.mastery_threshold * 100),
            "due": self.due.isoformat() if self.due else "",
            "grading": self.grading,
            "goal": str(self.goal),
            "tries": str(self.tries),
        }


def from_activity(activity: Activity, *, demo: bool = False) -> ActivitySettings:
    """The settings stored on an activity, the one reader of `Activity.settings`.

    Values missing or unusable fall back to the defaults (an activity created before a setting
    existed); fractions written as percentages (80 for 0.8) are read as the percentage they are,
    and every value is brought into the range the form allows. `demo`: the bank is the demo bank.
    """
    raw = dict(activity.settings or {})
    legacy = parse_int(raw.get("version"), 1, SETTINGS_VERSION) in (None, 1)
    base = ActivitySettings(title=activity.title, bank="")
    grading = raw.get("grading")
    if grading not in GRADING_POLICIES:
        grading = LEGACY_GRADING if legacy and grading is None else DEFAULT_GRADING
    return ActivitySettings(
        title=activity.title,
        bank="demo" if demo else str(activity.bank_id or ""),
        points=float(activity.points),
        skills=tuple(dict.fromkeys(k for k in map(parse_id, _list(raw.get("skills")))
                                   if k is not None)),
        categories=tuple(dict.fromkeys(str(c) for c in _list(raw.get("categories")) if c)),
        set_size=_whole_or(raw.get("set_size"), SET_SIZE_RANGE, base.set_size),
        band=_band_or(raw.get("band"), base.band),
        mastery_threshold=_share_or(raw.get("mastery_threshold"), THRESHOLD_RANGE,
                                    base.mastery_threshold),
        due=_date_or_none(raw.get("due")),
        grading=cast(GradingPolicy, grading),
        goal=_whole_or(raw.get("goal"), GOAL_RANGE, base.goal),
        tries=_whole_or(raw.get("tries"), TRIES_RANGE, base.tries),
    )


def upgraded_settings_json(activity: Activity, *, demo: bool = False) -> dict[str, Any]:
    """The activity's stored settings rewritten at the current version (keys kept)."""
    return {**(activity.settings or {}), **from_activity(activity, demo=demo).settings_json()}


def blank_form() -> dict[str, Any]:
    """The form of a new activity: the defaults, no title yet, the demo bank chosen."""
    return {**ActivitySettings(title="", bank="demo").form_values(), "title": ""}


def raw_form(form: FormData) -> dict[str, Any]:
    """The submitted values as typed, to show the form again next to its error messages."""
    values: dict[str, Any] = {
        key: str(form.get(key) or "").strip()
        for key in ("title", "bank", "points", "set_size", "band_low", "band_high",
                    "mastery_threshold", "due", "grading", "goal", "tries")
    }
    values["skills"] = [str(v) for v in form.getlist("skills")]
    values["categories"] = [str(v) for v in form.getlist("categories")]
    return values


def parse_form(form: FormData) -> ActivitySettings:
    """The settings from the teacher's form, or SettingsInvalid with one message per field."""
    raw = raw_form(form)
    errors: dict[str, str] = {}

    title = raw["title"]
    if not title:
        errors["title"] = "Please give the activity a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"The title is longer than {MAX_TITLE} characters."

    bank = raw["bank"]
    if bank != "demo" and parse_id(bank) is None:
        errors["bank"] = "Please choose an item bank."

    points = _number(raw["points"], "points", "Maximum points", errors)
    if points is not None and not 0 < points <= MAX_POINTS:
        errors["points"] = f"Maximum points must be more than 0 and at most {MAX_POINTS:g}."

    skills: list[int] = []
    for value in raw["skills"]:
        skill = parse_id(value)
        if skill is None:
            errors["skills"] = "One of the chosen skills is not valid; please choose again."
            break
        skills.append(skill)
    categories = [c for c in raw["categories"] if c]

    set_size = _whole(raw["set_size"], "set_size", "Questions per set", SET_SIZE_RANGE, errors)

    low = _number(raw["band_low"], "band_low", "The lower end of the target range", errors)
    high = _number(raw["band_high"], "band_high", "The upper end of the target range", errors)
    lo_pct, hi_pct = BAND_RANGE[0] * 100, BAND_RANGE[1] * 100
    if low is not None and high is not None:
        if not (lo_pct <= low < high <= hi_pct):
            errors["band_low"] = (
                f"The target range must lie between {lo_pct:g}% and {hi_pct:g}%, "
                "with the lower end below the upper end."
            )

    threshold = _number(raw["mastery_threshold"], "mastery_threshold", "The mastery level",
                        errors)
    lo_t, hi_t = THRESHOLD_RANGE[0] * 100, THRESHOLD_RANGE[1] * 100
    if threshold is not None and not lo_t <= threshold <= hi_t:
        errors["mastery_threshold"] = (
            f"The mastery level must be between {lo_t:g}% and {hi_t:g}%."
        )

    due: date | None = None
    if raw["due"]:
        due = _date_or_none(raw["due"])
        if due is None:
            errors["due"] = "The due date must be a date like 2026-12-31, or left empty."

    grading = raw["grading"] or DEFAULT_GRADING
    if grading not in GRADING_POLICIES:
        errors["grading"] = "Please choose how the activity is graded."

    goal = _whole(raw["goal"], "goal", "The completion goal", GOAL_RANGE, errors)
    # A form from before this setting existed has no field: one try, as before.
    tries = _whole(raw["tries"] or "1", "tries", "Tries per question", TRIES_RANGE, errors)

    if errors:
        raise SettingsInvalid(errors)
    assert points is not None and set_size is not None and goal is not None
    assert tries is not None
    assert low is not None and high is not None and threshold is not None
    return ActivitySettings(
        title=title,
        bank=bank,
        points=points,
        skills=tuple(dict.fromkeys(skills)),
        categories=tuple(dict.fromkeys(categories)),
        set_size=set_size,
        band=(round(low / 100, 4), round(high / 100, 4)),
        mastery_threshold=round(threshold / 100, 4),
        due=due,
        grading=cast(GradingPolicy, grading),
        goal=goal,
        tries=tries,
    )


def item_in_scope(
    item_skills: Iterable[int], item_category: str, skills: Sequence[int],
    categories: Sequence[str],
) -> bool:
    """Whether an item may be practised under the activity's chosen skills and categories.

    No choice means everything. An item qualifies when it practises at least one chosen skill,
    and its category is a chosen one or lies below one ("Top/Fractions" takes
    "Top/Fractions/Adding" too, as Moodle's question bank nests categories).
    """
    if skills and not set(int(k) for k in item_skills) & set(skills):
        return False
    if categories:
        own = item_category.rstrip("/")
        return any(own == c.rstrip("/") or own.startswith(c.rstrip("/") + "/")
                   for c in categories)
    return True


# --- small parsers ---------------------------------------------------------------------------


def _number(text: str, field: str, what: str, errors: dict[str, str]) -> float | None:
    value = parse_float(text)
    if value is None:
        errors[field] = f"{what} must be a number."
    return value


def _whole(text: str, field: str, what: str, bounds: tuple[int, int],
           errors: dict[str, str]) -> int | None:
    value = parse_int(text, *bounds)
    if value is None:
        errors[field] = f"{what} must be a whole number from {bounds[0]} to {bounds[1]}."
    return value


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _date_or_none(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _whole_or(value: Any, bounds: tuple[int, int], default: int) -> int:
    number = parse_float(value)
    if number is None or number != int(number):
        return default
    return min(max(int(number), bounds[0]), bounds[1])


def _share(value: Any) -> float | None:
    """A stored fraction; 80 (a percentage written by an older form or a script) is 0.8."""
    number = parse_float(value)
    if number is None or number < 0:
        return None
    return number / 100 if 1 < number <= 100 else number


def _share_or(value: Any, bounds: tuple[float, float], default: float) -> float:
    share = _share(value)
    if share is None or share > 1:
        return default
    return min(max(share, bounds[0]), bounds[1])


def _band_or(value: Any, default: tuple[float, float]) -> tuple[float, float]:
    ends = _list(value)
    if len(ends) != 2:
        return default
    low, high = _share(ends[0]), _share(ends[1])
    if low is None or high is None or not BAND_RANGE[0] <= low < high <= BAND_RANGE[1]:
        return default
    return low, high


def _plain(value: float) -> str:
    """60.0 -> "60", 62.5 -> "62.5": what a teacher would have typed."""
    return f"{round(value, 4):g}"


__all__ = [
    "DEFAULT_GRADING", "GRADING_POLICIES", "ActivitySettings", "FormData", "GradingPolicy",
    "SettingsInvalid", "blank_form", "from_activity", "item_in_scope",
    "parse_form", "raw_form", "upgraded_settings_json",
]
