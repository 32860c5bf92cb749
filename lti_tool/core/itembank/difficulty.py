"""A question's stated difficulty, as a teacher writes it in a bank, on the model's scale.

`Item.difficulty_prior` is the prior mean of the item's entry in the model's course tables
(`meta_engine.model.tables`): a logit offset from its skills' difficulty, harder = larger, with
a prior sd of 1 (`MetisConfig.prior_sd_item`). So "medium" is 0 and one step of the five levels
is one logit, about the change from 50% to 27% of students right.

Accepted (case and spacing free): the words "very easy", "easy", "medium", "hard", "very hard";
a level 1-5 (1 very easy, 3 medium, 5 very hard, as a number between them); the share of
students expected to answer right, "70%" or 0.7 (difficulty = logit of the share of wrong
answers, so 50% is medium). Anything else is not a difficulty: `parse_difficulty` returns None
and `read_difficulty` adds a warning for the import report; the question is imported anyway.

Bank formats name it as a `difficulty` CSV column, or a question tag "difficulty:hard" (also
"difficulty=hard") in Moodle XML `<tags>` and GIFT `// [tag:...]` comments (`tag_value`).
"""

from __future__ import annotations

import math
import re

# Beyond 3 logits (about 5% or 95% right) a stated difficulty says more than a teacher knows.
LIMIT = 3.0
WORDS = {"very easy": -2.0, "easy": -1.0, "medium": 0.0, "hard": 1.0, "very hard": 2.0}
LEVELS = (1.0, 5.0)
HELP = ("use easy, medium, hard, very easy, very hard, a level 1-5 or the share expected right "
        "such as 70%")
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+")
_TAG = re.compile(r"difficulty\s*[:=]\s*(.*)", re.IGNORECASE | re.DOTALL)


def level_to_logit(level: float) -> float:
    """A level on the 1-5 scale (3 is medium) as a difficulty."""
    return _clamp(level - 3.0)


def share_to_logit(share: float) -> float:
    """The share of students expected right (0 to 1) as a difficulty: logit(1 - share)."""
    share = min(1.0, max(0.0, share))
    if share in (0.0, 1.0):
        return LIMIT if share == 0.0 else -LIMIT
    return _clamp(math.log((1.0 - share) / share))


def parse_difficulty(text: str | float | None) -> float | None:
    """A stated difficulty (see the module doc) on the model's scale, or None."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return _from_number(float(text), percent=False)
    raw = " ".join(text.split()).lower()
    word = " ".join(re.sub(r"[-_]", " ", raw).split())  # "very-easy", "very_easy"
    if word in WORDS:
        return WORDS[word]
    percent = raw.endswith("%")
    number = raw[:-1].strip() if percent else raw
    if not _NUMBER.fullmatch(number):
        return None
    return _from_number(float(number.replace(",", ".")), percent=percent)


def _from_number(value: float, *, percent: bool) -> float | None:
    if not math.isfinite(value):
        return None
    if percent:
        return share_to_logit(value / 100) if 0.0 <= value <= 100.0 else None
    if 0.0 < value < 1.0:
        return share_to_logit(value)
    if LEVELS[0] <= value <= LEVELS[1]:
        return level_to_logit(value)
    return None  # 0, or past 5: neither a share nor a level


def read_difficulty(raw: str, where: str, warnings: list[str]) -> float | None:
    """`parse_difficulty` for an import: an empty value is no difficulty, one that is not
    understood is reported in `warnings` (prefixed by `where`, e.g. "row 3 (Q1)")."""
    if not raw.strip():
        return None
    value = parse_difficulty(raw)
    if value is None:
        warnings.append(f"{where}: the difficulty {raw.strip()[:40]!r} is not understood and "
                        f"was left out ({HELP})")
    return value


def tag_value(tag: str) -> str | None:
    """The value of a "difficulty:hard" / "difficulty=hard" tag, None for any other tag."""
    match = _TAG.fullmatch(tag.strip())
    return match.group(1).strip() if match else None


def to_text(value: float) -> str:
    """A stored difficulty written back for export, readable by `parse_difficulty`: the word
    when it is one, else the share expected right."""
    for word, logit in WORDS.items():
        if abs(value - logit) < 1e-9:
            return word
    return f"{100 / (1 + math.exp(value)):.4g}%"


def _clamp(value: float) -> float:
    return min(LIMIT, max(-LIMIT, value))
