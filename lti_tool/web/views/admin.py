"""The tool's admin pages: reached by an LMS launch with the Administrator role
(`/admin/<launch_id>/...`) or by a local admin account logged in here (`/admin/local/...`).

They are tool-wide on purpose: whoever holds an LMS site-administrator role installed the tool
and manages every registration, so these pages are not filtered by platform. Each page is
registered under both prefixes with one endpoint, so `url_for(endpoint, launch_id=...)` builds
the LTI URL and `url_for(endpoint)` (launch_id None) the local one.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from lti_tool.core import operations
from lti_tool.lti import keys
from lti_tool.lti.registration import manual, tokens
from lti_tool.lti.registration.tool_urls import tool_urls
from lti_tool.lti.roles import Role
from lti_tool.web import admin_accounts
from lti_tool.web.access import SESSION_KEY as LAUNCHES_KEY
from lti_tool.web.access import require_launch
from lti_tool.web.extensions import celery_client, database, redis_client, settings

log = logging.getLogger("metis.admin")
bp = Blueprint("admin", __name__, url_prefix="/admin")

LOCAL_KEY = "admin_account"
# A local admin session ends after this long even if the browser stays open.
LOCAL_SESSION_MAX_S = 8 * 3600
PLATFORM_GROUPS = ("pending", "active", "disabled")
PROBE_KEY = "metis.admin.redis_probe"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AdminIdentity:
    via: str  # "lti" | "local"
    launch_id: str | None
    name: str

    def describe(self) -> str:
        return f"launch {self.launch_id}" if self.via == "lti" else f"local admin {self.name}"


# --- who is an admin ---------------------------------------------------------------------


def current_local_admin() -> admin_accounts.AccountView | None:
    """The local admin logged in with this browser's session, if the login is still valid."""
    data = session.get(LOCAL_KEY)
    if not isinstance(data, dict):
        return None
    account_id, at = data.get("id"), data.get("at")
    if not isinstance(account_id, int) or not isinstance(at, int | float):
        return None
    if time.time() - at > LOCAL_SESSION_MAX_S:
        session.pop(LOCAL_KEY, None)
        return None
    with database().session() as s:
        account = admin_accounts.load_account(s, account_id)
    if account is None:  # the account was removed since the login
        session.pop(LOCAL_KEY, None)
    return account


def require_admin(view: F) -> F:
    """Let in an LTI launch with the Administrator role (the view got `launch_id`) or a logged-in
    local admin (no `launch_id`); puts an AdminIdentity on `g.admin`."""

    @require_launch(Role.admin)
    def via_launch(*args: Any, **kwargs: Any) -> Any:
        g.admin = AdminIdentity("lti", g.launch.launch_id, "LMS administrator")
        return view(*args, **kwargs)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("launch_id") is not None:
            return via_launch(*args, **kwargs)
        account = current_local_admin()
        if account is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("admin.login", next=request.path), code=303)
            return _refuse("please log in as an administrator first", 401)
        g.admin = AdminIdentity("local", None, account.username)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_route(rule: str, **options: Any) -> Callable[[F], F]:
    """Register the view at /admin/<launch_id>{rule} and /admin/local{rule}, behind
    require_admin."""

    def decorator(view: F) -> F:
        guarded = require_admin(view)
        endpoint = options.pop("endpoint", view.__name__)
        bp.add_url_rule("/<launch_id>" + rule, endpoint, guarded, **options)
        bp.add_url_rule("/local" + rule, endpoint, guarded, **options)
        return guarded

    return decorator


# --- helpers -----------------------------------------------------------------------------


def _render(template: str, section: str, **context: Any) -> ResponseReturnValue:
    return render_template(
        template, admin=g.admin, launch_id=g.admin.launch_id, section=section, **context
    )


def _refuse(reason: str, status: int) -> ResponseReturnValue:
    log.warning("admin action refused: %s", reason)
    return render_template("lti/error.html", reason=reason, detail="", status=status), status


def _back(message: str, endpoint: str = "admin.index") -> ResponseReturnValue:
    log.info("admin (%s): %s", g.admin.describe(), message)
    flash(message)
    return redirect(url_for(endpoint, launch_id=g.admin.launch_id), code=303)


def _duration(seconds: int) -> str:
    """A grace period in the unit an admin thinks in ("7 days", "12 hours")."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def _probe_redis() -> redis.Redis:
    """The health page's Redis client (short timeouts, no retries), made once per app."""
    app: Any = current_app
    client = app.extensions.get(PROBE_KEY)
    if client is None:
        client = operations.probe_client(settings().effective_redis_url)
        app.extensions[PROBE_KEY] = client
    return client


def _platforms_page(new_registration_url: str | None = None) -> ResponseReturnValue:
    with database().session() as s:
        platforms = manual.list_platforms(s)
    groups = {status: [p for p in platforms if p.status == status] for status in PLATFORM_GROUPS}
    return _render(
        "admin/index.html",
        "platforms",
        groups=groups,
        urls=tool_urls(settings()),
        new_registration_url=new_registration_url,
        registration_ttl_min=settings().registration_url_ttl_s // 60,
    )


# --- pages -------------------------------------------------------------------------------


@admin_route("", methods=["GET"])
def index(launch_id: str | None = None) -> ResponseReturnValue:
    return _platforms_page()


@admin_route("/keys", methods=["GET"])
def keys_page(launch_id: str | None = None) -> ResponseReturnValue:
    with database().session() as s:
        keys.signing_key(s)  # as `metis keys list`: the first key is made on first use
        tool_keys = operations.tool_keys(s)
    return _render("admin/keys.html", "keys", tool_keys=tool_keys)


@admin_route("/health", methods=["GET"])
def health(launch_id: str | None = None) -> ResponseReturnValue:
    probe = _probe_redis()
    with database().session() as s:
        queues = operations.queue_stats(s, probe)
        rates = operations.event_rates(s)
        failures = operations.recent_failures(s)
    workers = operations.worker_status(
        probe, lambda timeout: celery_client().control.inspect(timeout=timeout).ping())
    return _render(
        "admin/health.html",
        "health",
        queues=queues,
        rates=rates,
        failures=failures,
        workers=workers,
        readiness=operations.worker_readiness(probe),
        scheduler=operations.scheduler_status(probe),
    )


@admin_route("/models", methods=["GET"])
def models_page(launch_id: str | None = None) -> ResponseReturnValue:
    with database().session() as s:
        models = operations.model_versions(s)
    return _render(
        "admin/models.html",
        "models",
        models=models,
        served=operations.served_models(database()),
        card=operations.shipped_default_card(),
    )


# --- actions -----------------------------------------------------------------------------


@admin_route("/platforms/<id:platform_id>/<action>", methods=["POST"])
def platform_action(
    platform_id: int, action: str, launch_id: str | None = None
) -> ResponseReturnValue:
    change = {"approve": manual.approve_platform, "disable": manual.disable_platform}.get(action)
    if change is None:
        return _refuse(f"unknown platform action {action!r}", 404)
    try:
        with database().session() as s:
            platform = change(s, platform_id)
            name = platform.name or platform.issuer
    except manual.ManualRegistrationError as exc:
        return _refuse(str(exc), 404)
    done = "approved: it can launch Metis now" if action == "approve" else \
        "disabled: its launches are refused until it is approved again"
    return _back(f"Platform {name} (platform {platform_id}) {done}.")


@admin_route("/platforms/<id:platform_id>/deployments/<action>", methods=["POST"])
def deployment_action(
    platform_id: int, action: str, launch_id: str | None = None
) -> ResponseReturnValue:
    if action not in ("approve", "disable"):
        return _refuse(f"unknown deployment action {action!r}", 404)
    deployment_id = request.form.get("deployment_id", "")
    try:
        with database().session() as s:
            manual.set_deployment_active(s, platform_id, deployment_id, action == "approve")
    except manual.ManualRegistrationError as exc:
        return _refuse(str(exc), 400)
    done = ("approved: its courses can launch Metis" if action == "approve" else
            "disabled: launches from it are refused until it is approved again")
    return _back(f"Deployment {deployment_id} of platform {platform_id} {done}.")


@admin_route("/registration-url", methods=["POST"])
def registration_url(launch_id: str | None = None) -> ResponseReturnValue:
    # Shown once in this response, never stored in the cookie session or the database.
    with database().session() as s:
        raw = tokens.mint(s, settings().registration_url_ttl_s)
    log.info("admin (%s): minted a dynamic registration URL", g.admin.describe())
    return _platforms_page(new_registration_url=tool_urls(settings()).registration(raw))


@admin_route("/keys/rotate", methods=["GET"])
def rotate_key_confirm(launch_id: str | None = None) -> ResponseReturnValue:
    """Rotation changes what every platform must trust: say so, and ask, before doing it."""
    with database().session() as s:
        current = next((k for k in operations.tool_keys(s) if k.status == "active"), None)
    return _render(
        "admin/rotate_key.html", "keys", current=current,
        grace=_duration(settings().key_grace_period_s),
    )


@admin_route("/keys/rotate", methods=["POST"])
def rotate_key(launch_id: str | None = None) -> ResponseReturnValue:
    # Only the confirmation page's form says "yes": a bare POST (an old bookmark, a script that
    # skipped the page) rotates nothing.
    if request.form.get("confirm") != "rotate":
        return _refuse("confirm the rotation on its page first (Signing keys › Rotate)", 400)
    with database().session() as s:
        key = keys.rotate(s)
        kid = key.kid
    return _back(
        f"Rotated: new signing key {kid}. The previous key stays published for "
        f"{_duration(settings().key_grace_period_s)}, so launches in progress keep working.",
        "admin.keys_page",
    )


# --- local admin login -------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    # Only back into the local admin pages: never an open redirect to another site.
    if target and target.startswith("/admin/local") and "//" not in target and "\\" not in target:
        return target
    return url_for("admin.index")


def _login_page(status: int = 200, error: str | None = None, username: str = "") -> Any:
    page = render_template(
        "admin/login.html",
        error=error,
        username=username,
        next=request.values.get("next", ""),
    )
    return page, status


@bp.get("/login")
def login() -> ResponseReturnValue:
    if current_local_admin() is not None:
        return redirect(_safe_next(request.args.get("next")), code=303)
    return _login_page()


@bp.post("/login")
def login_submit() -> ResponseReturnValue:
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    if not username.strip() or not password:
        return _login_page(400, "Enter your username and password.", username)
    address = request.remote_addr or "unknown"
    limiter = admin_accounts.LoginLimiter(redis_client())
    try:
        wait_s = limiter.attempt(username, address)
        if wait_s:
            log.warning("admin login rate-limited (%s failed tries)", limiter.limit)
            minutes = max(1, -(-wait_s // 60))
            page, status = _login_page(
                429,
                f"Too many tries. Please wait {minutes} minute{'s' if minutes > 1 else ''} "
                "and try again.",
                username,
            )
            return page, status, {"Retry-After": str(wait_s)}
        with database().session() as s:
            account = admin_accounts.authenticate(s, username, password)
        if account is None:
            log.warning("admin login failed")
            return _login_page(401, "Wrong username or password.", username)
        limiter.succeeded(username, address)
    except redis.RedisError:
        # Without the limiter a login would be unlimited guessing: refuse until Redis is back.
        log.error("admin login unavailable: Redis did not answer")
        return _login_page(503, "Login is unavailable right now. Please try again shortly.")
    # A new session at login (against session fixation); the LTI launches it held stay.
    launches = [x for x in session.get(LAUNCHES_KEY, []) if isinstance(x, str)]
    session.clear()
    if launches:
        session[LAUNCHES_KEY] = launches
    session[LOCAL_KEY] = {"id": account.id, "at": int(time.time())}
    log.info("local admin %s logged in", account.username)
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.pop(LOCAL_KEY, None)
    flash("You are logged out.")
    return redirect(url_for("admin.login"), code=303)
