"""Teacher pages for the course's item banks: list, upload (Moodle XML, GIFT, CSV) with a
report, a bank's items, the Moodle XML export, editing and deleting a question, deleting a
bank. Thin: parsing, storage and edits live in lti_tool.core.itembank (deleting archives, so
answers already given keep their question). Every bank is looked up within the launch's
platform and course (404 otherwise).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from lti_tool.core.db.models import Item, ItemBank, Skill
from lti_tool.core.itembank import FORMATS, ImportFileError, moodle_xml, read_bank
from lti_tool.core.itembank.editing import (
    EditError,
    activities_using,
    answers_to,
    archive_bank,
    archive_item,
    bank_item,
    live_banks,
    parse_edit,
    save_edit,
)
from lti_tool.core.itembank.model import MAX_FILE_BYTES, ImportReport, Question
from lti_tool.core.itembank.offered import offered_items
from lti_tool.core.itembank.sanitize import clean_html
from lti_tool.core.itembank.store import course_bank, load_questions, save_import
from lti_tool.lti.roles import Role
from lti_tool.web.access import launch_course, require_launch
from lti_tool.web.extensions import database
from lti_tool.web.security import csrf, platform_origins

log = logging.getLogger("metis.banks")
bp = Blueprint("banks", __name__)

# The file plus the form's other fields and multipart overhead.
MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 64 * 1024
MAX_MB = MAX_FILE_BYTES // 1024 // 1024
KIND_NAMES = {"multichoice": "Multiple choice", "multiresponse": "Multiple answers",
              "truefalse": "True/false", "numeric": "Numerical", "shortanswer": "Short answer"}


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    # The upload may be larger than the app-wide request limit, so this view checks CSRF
    # itself, after raising the limit for its own request (see import_bank).
    csrf(app).exempt(import_bank)


@bp.after_request
def _strict_csp(response: Response) -> Response:
    # These pages show imported HTML: even if something slipped through the sanitiser it may
    # not run script, load anything from elsewhere, or post anywhere but here.
    sources = " ".join(["'self'", *platform_origins(current_app)])
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {sources}"
    )
    return response


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> ResponseReturnValue:
    return _refused(413, TOO_LARGE)


def _refused(status: int, reason: str) -> ResponseReturnValue:
    launch_id = (request.view_args or {}).get("launch_id", "")
    return render_template("teacher/banks_error.html", reason=reason, status=status,
                           launch_id=launch_id), status


@bp.get("/teacher/<launch_id>/banks")
@require_launch(Role.instructor)
def index(launch_id: str) -> ResponseReturnValue:
    platform_id, context_id = launch_course()
    with database().session() as s:
        banks = live_banks(s, platform_id, context_id)
    return render_template("teacher/banks.html", launch_id=launch_id, banks=banks,
                           formats=FORMATS, max_mb=MAX_MB)


class UploadRefused(Exception):
    """The uploaded bank was not imported; `reason` says why, for the teacher."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Imported:
    filename: str
    report: ImportReport


TOO_LARGE = f"the file is too large: files up to {MAX_MB} MB can be imported"


def receive_upload(platform_id: int, context_id: int) -> Imported:
    """Import the bank file this request's form carries (fields `file`, `format`, `bank`) into
    the course's banks: the bank page's upload and the content selection page's share it.
    Raises UploadRefused, or CSRFError (400) like every other form. The view must be exempt
    from the app-wide CSRF check (see _setup): the size limit is raised here first."""
    request.max_content_length = MAX_UPLOAD_BYTES
    try:
        csrf(current_app).protect()
        upload = request.files.get("file")
        chosen = request.form.get("format", "auto")
        named = (request.form.get("bank") or "").strip()
    except RequestEntityTooLarge:
        raise UploadRefused(413, TOO_LARGE) from None
    if upload is None or not upload.filename:
        raise UploadRefused(400, "please choose a file to import")
    data = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UploadRefused(413, TOO_LARGE)
    try:
        parsed = read_bank(upload.filename, data, chosen)
    except ImportFileError as exc:
        log.info("bank import refused: %s", exc)
        raise UploadRefused(400, f"{upload.filename} cannot be imported: {exc}") from None
    with database().session() as s:
        report = save_import(s, parsed, platform_id=platform_id, context_id=context_id,
                             bank_name=named or _stem(upload.filename))
    log.info("bank %s: %s imported, %s updated, %s rejected", report.bank_id, report.imported,
             report.updated, len(report.rejected))
    return Imported(upload.filename, report)


@bp.post("/teacher/<launch_id>/banks/import")
@require_launch(Role.instructor)
def import_bank(launch_id: str) -> ResponseReturnValue:
    platform_id, context_id = launch_course()
    try:
        imported = receive_upload(platform_id, context_id)
    except UploadRefused as exc:
        return _refused(exc.status, exc.reason)
    return render_template("teacher/banks_report.html", launch_id=launch_id,
                           report=imported.report, filename=imported.filename)


def _stem(filename: str) -> str:
    name = re.split(r"[\\/]", filename)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def _display(q: Question) -> dict[str, Any]:
    """A question ready for the page: HTML sanitised again (items may predate the importer)."""
    right = set(q.answer.get("choices", [q.answer.get("choice")]))
    partial = [p for p in q.answer.get("partial", []) if isinstance(p, dict)]
    if q.kind == "numeric":
        answer = " | ".join(
            [f"{q.answer.get('value')} (± {q.answer.get('tolerance', 0)})"]
            + [f"{p.get('value')} (± {p.get('tolerance', 0)}, {_pct(p.get('credit'))}% of the "
               "marks)" for p in partial])
    elif q.kind == "shortanswer":
        answer = " | ".join([str(a) for a in q.answer.get("accepted", [])]
                            + [f"{p.get('match')} ({_pct(p.get('credit'))}% of the marks)"
                               for p in partial])
    else:
        answer = ""
    # Partial credit of each choice: a single choice's credit, a multiple-answer weight.
    shares = q.answer.get("credits") or q.answer.get("weights") or []
    return {
        "name": q.name, "kind": KIND_NAMES.get(q.kind, q.kind), "skills": q.skills,
        "category": q.category, "text": Markup(clean_html(q.text)),
        "choices": [(Markup(clean_html(str(c))), i in right,
                     _pct(shares[i]) if i < len(shares) and i not in right else 0)
                    for i, c in enumerate(q.choices)],
        "answer": answer, "hints": [Markup(clean_html(str(h))) for h in q.hints],
        "solution": Markup(clean_html(q.solution)),
        "general": Markup(clean_html(str(q.feedback.get("general", "")))),
    }


def _pct(share: Any) -> int:
    """A stored share of the marks (a credit or a weight) as a whole percentage."""
    try:
        return round(100 * float(share))
    except (TypeError, ValueError):
        return 0


def _course_bank(s: Session, bank_id: int) -> ItemBank:
    """The launch's course's bank, not deleted; the 404 page otherwise."""
    platform_id, context_id = launch_course()
    bank = course_bank(s, bank_id, platform_id, context_id)
    if bank is None or bank.archived_at is not None:
        abort(make_response(_refused(404, "there is no such item bank in this course")))
    return bank


def _bank(bank_id: int) -> tuple[str, list[tuple[int, Question]]]:
    """The bank's name and its questions not deleted, each with its item id."""
    with database().session() as s:
        bank = _course_bank(s, bank_id)
        questions = load_questions(s, bank)  # all of the bank's items, in id order
        rows = s.execute(select(Item.id, Item.archived_at).where(Item.bank_id == bank.id)
                         .order_by(Item.id)).all()
        return bank.name, [(item_id, q) for (item_id, archived), q
                           in zip(rows, questions, strict=True) if archived is None]


@bp.get("/teacher/<launch_id>/banks/<id:bank_id>")
@require_launch(Role.instructor)
def show(launch_id: str, bank_id: int) -> ResponseReturnValue:
    name, questions = _bank(bank_id)
    return render_template("teacher/banks_show.html", launch_id=launch_id, bank_id=bank_id,
                           name=name, items=[{"id": i, **_display(q)} for i, q in questions])


@bp.get("/teacher/<launch_id>/banks/<id:bank_id>/export.xml")
@require_launch(Role.instructor)
def export(launch_id: str, bank_id: int) -> ResponseReturnValue:
    name, questions = _bank(bank_id)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or f"bank-{bank_id}"
    return Response(moodle_xml.export([q for _, q in questions]), mimetype="application/xml",
                    headers={
        "Content-Disposition": f'attachment; filename="{filename}.xml"'})


def _edit_page(launch_id: str, bank: ItemBank, item: Item, form: dict[str, str],
               answers: int, reason: str = "", status: int = 200) -> ResponseReturnValue:
    return render_template("teacher/banks_edit.html", launch_id=launch_id, bank_id=bank.id,
                           bank_name=bank.name, item=item, form=form, answers=answers,
                           reason=reason, kind=KIND_NAMES.get(item.kind, item.kind)), status


def _form_of(s: Session, item: Item) -> dict[str, str]:
    """The edit form's fields as the question stands."""
    names: dict[int, str] = {sid: name for sid, name in s.execute(select(Skill.id, Skill.name)
                             .where(Skill.id.in_([int(k) for k in item.skill_ids or []])))}
    answer = item.answer or {}
    right = answer.get("choices", [answer.get("choice")])
    form = {"name": item.name, "text": item.text,
            "skills": ", ".join(names[int(k)] for k in item.skill_ids or [] if int(k) in names),
            "general": str((item.feedback or {}).get("general", "")), "solution": item.solution,
            "right": ",".join(str(r) for r in right if r is not None),
            "value": str(answer.get("value", "")), "tolerance": str(answer.get("tolerance", 0)),
            "accepted": "\n".join(str(a) for a in answer.get("accepted", []))}
    for n, choice in enumerate(item.choices or []):
        form[f"choice-{n}"] = str(choice)
    return form


def _item(s: Session, bank: ItemBank, item_id: int) -> Item:
    item = bank_item(s, bank, item_id)
    if item is None:
        abort(make_response(_refused(404, "there is no such question in this bank")))
    return item


@bp.get("/teacher/<launch_id>/banks/<id:bank_id>/items/<id:item_id>/edit")
@require_launch(Role.instructor)
def edit_item(launch_id: str, bank_id: int, item_id: int) -> ResponseReturnValue:
    with database().session() as s:
        bank = _course_bank(s, bank_id)
        item = _item(s, bank, item_id)
        return _edit_page(launch_id, bank, item, _form_of(s, item), answers_to(s, item.id))


@bp.post("/teacher/<launch_id>/banks/<id:bank_id>/items/<id:item_id>/edit")
@require_launch(Role.instructor)
def save_item(launch_id: str, bank_id: int, item_id: int) -> ResponseReturnValue:
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if request.form.getlist("right"):  # ticked boxes (several) or a radio button (one)
        form["right"] = ",".join(request.form.getlist("right"))
    with database().session() as s:
        bank = _course_bank(s, bank_id)
        item = _item(s, bank, item_id)
        answers = answers_to(s, item.id)
        try:
            edit = parse_edit(item, form)
        except EditError as exc:
            return _edit_page(launch_id, bank, item, form, answers, str(exc), 400)
        saved = save_edit(s, item, edit)
        kept = saved.id != item.id
    flash(f"“{edit.name}” was saved." + (
        f" The {answers} answer{'s' if answers != 1 else ''} already given keep the question "
        "as it was." if kept else ""))
    return redirect(url_for("banks.show", launch_id=launch_id, bank_id=bank_id), code=303)


@bp.post("/teacher/<launch_id>/banks/<id:bank_id>/items/<id:item_id>/delete")
@require_launch(Role.instructor)
def delete_item(launch_id: str, bank_id: int, item_id: int) -> ResponseReturnValue:
    with database().session() as s:
        bank = _course_bank(s, bank_id)
        item = _item(s, bank, item_id)
        name = item.name or "The question"
        answers = answers_to(s, item.id)
        archive_item(item)
    flash(f"“{name}” was deleted from the bank: it is no longer offered to students."
          + (f" Its {answers} answer{'s' if answers != 1 else ''} stay in the students' history."
             if answers else ""))
    return redirect(url_for("banks.show", launch_id=launch_id, bank_id=bank_id), code=303)


@bp.get("/teacher/<launch_id>/banks/<id:bank_id>/delete")
@require_launch(Role.instructor)
def confirm_delete_bank(launch_id: str, bank_id: int) -> ResponseReturnValue:
    with database().session() as s:
        bank = _course_bank(s, bank_id)
        count = len(s.scalars(offered_items(bank.id)).all())
        return render_template("teacher/banks_delete.html", launch_id=launch_id,
                               bank_id=bank.id, name=bank.name, questions=count,
                               activities=activities_using(s, bank.id))


@bp.post("/teacher/<launch_id>/banks/<id:bank_id>/delete")
@require_launch(Role.instructor)
def delete_bank(launch_id: str, bank_id: int) -> ResponseReturnValue:
    with database().session() as s:
        bank = _course_bank(s, bank_id)
        name = bank.name
        archive_bank(s, bank)
    flash(f"The bank “{name}” was deleted; answers already given keep their questions.")
    return redirect(url_for("banks.index", launch_id=launch_id), code=303)
