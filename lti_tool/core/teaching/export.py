"""CSV downloads of the class overview and the item statistics.

Cells are safe to open in a spreadsheet: a text cell starting with = + - @ (or a tab or carriage
return) would be run as a formula, so it gets a leading apostrophe. Numbers are written by us
and stay numbers (a negative discrimination must remain sortable).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from lti_tool.core.teaching.items import ItemReport
from lti_tool.core.teaching.overview import Overview

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None


def safe_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


OVERVIEW_HEADER = ("student", "lms_user_id", "activity", "row", "name", "mastery",
                   "mastery_from", "attempts", "correct", "score", "score_maximum",
                   "gradebook_status", "at_risk")


def overview_csv(view: Overview) -> str:
    """As the page shows it: one "skill" row per student, activity and skill of that activity's
    heatmap (mastery empty without evidence), then one "score" row per score the student has
    in the gradebook ("name" is the gradebook column, i.e. the activity's title)."""
    rows: list[list[Cell]] = []
    for r in view.rows:
        risk = "; ".join(r.risks)
        skill_rows = 0
        for heatmap in view.heatmaps:
            cells = r.activity_cells.get(heatmap.activity_id)
            if cells is None:  # not in this activity's heatmap
                continue
            for sid, name in heatmap.skills:
                cell = cells.get(sid)
                rows.append([r.name, r.lms_id, heatmap.title, "skill", name,
                             cell.mastery if cell else None,
                             ("model" if cell.from_model else "proportion correct") if cell
                             else "",
                             cell.attempts if cell else 0, cell.correct if cell else 0,
                             None, None, "", risk])
                skill_rows += 1
        for pb in r.passbacks:
            rows.append([r.name, r.lms_id, pb["activity"], "score", pb["activity"], None, "",
                         None, None, float(pb["score"]), float(pb["maximum"]), pb["status"],
                         risk])
        if not skill_rows and not r.passbacks:
            rows.append([r.name, r.lms_id, "", "student", "", None, "", 0, 0, None, None, "",
                         risk])
    return to_csv(OVERVIEW_HEADER, rows)


ITEMS_HEADER = ("activity", "item_id", "question", "text", "skills", "attempts", "students",
                "proportion_correct", "proportion_correct_low", "proportion_correct_high",
                "difficulty", "discrimination", "flags", "archived")


def items_csv(report: ItemReport) -> str:
    """The page's table for its one activity; the proportion's bounds are its Wilson 95%
    interval, "archived": deleted from the bank since (its answers are kept)."""
    return to_csv(ITEMS_HEADER, (
        [report.title, r.item_id, r.name, r.text, "; ".join(r.skills), r.stat.attempts,
         r.stat.students, r.stat.p_correct, *r.stat.interval, r.stat.difficulty,
         r.stat.discrimination, "; ".join(r.stat.flags), r.archived]
        for r in report.rows))
