"""The dashboard: server-rendered pages, signed in with a secret key.

Signing in makes a server-side session (`projects.start_session`): the cookie holds a random
token, not the key; signing out deletes the session, so a replayed cookie no longer works, and
revoking the key ends its sessions. The cookie is HttpOnly, SameSite=Strict, and Secure when
served over HTTPS (or as `TAILOR_COOKIE_SECURE` says). Every POST is checked against
cross-site request forgery twice: its `Origin` (or `Referer`), when the browser sends one, must
be this server's own (a page on another port of the same host is another origin, though the
same site, so SameSite does not stop it), and a signed-in form carries its session's CSRF token.
"""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tailorai.events.stats import event_counts, events_per_minute
from tailorai.projects import ApiKey, Session, end_session, session_of, start_session
from tailorai.segments import user_profile
from tailorai.server.auth import AuthError
from tailorai.server.deps import Services, authorize, client_of, get_services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
COOKIE = "tailor_session"


def _session(request: Request, services: Services) -> Session | None:
    """The signed-in session, rate-limited per key like an API call (429 when over)."""
    session = session_of(services.store, request.cookies.get(COOKIE, ""))
    if session is None:
        return None
    wait = services.limiter.check(f"session:{session.key.prefix}")
    if wait > 0:
        raise AuthError(429, "Too many requests for this key; slow down.", "rate_limited", wait)
    return session


def _signed_in(request: Request, services: Services) -> ApiKey | None:
    session = _session(request, services)
    return session.key if session is not None else None


def _cross_site(request: Request) -> bool:
    """Whether the browser says this POST comes from a page of another origin."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        return claimed == "null"  # no header: not a browser's cross-site form
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return claimed.rstrip("/") != own and not claimed.startswith(own + "/")


def _forbidden() -> Response:
    return HTMLResponse(
        "<p>Refused: this form was not sent from the dashboard's own pages.</p>"
        "<p><a href='/'>Back</a></p>",
        403,
    )


def _login(request: Request, error: str | None = None, status: int = 200) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"error": error, "project": None}, status_code=status
    )


def _overview(services: Services, project: str) -> dict[str, Any]:
    per_minute = events_per_minute(services.store, project)
    segments = services.features.segment_sizes(project)
    production = services.segmentations.production(project)
    profiles = {
        p["name"]: p.get("description", "")
        for p in (production.summary.get("profiles", []) if production else [])
    }
    return {
        "profiles": profiles,
        "segmentation": production.version if production else None,
        "project": project,
        "per_minute": per_minute,
        "peak": max(max(per_minute), 1),
        "counts": event_counts(services.store, project),
        "segments": segments,
        "users": sum(segments.values()),
    }


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, services: Services = Depends(get_services)) -> Response:
    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    context = await run_in_threadpool(_overview, services, key.project_id)
    return templates.TemplateResponse(request, "overview.html", context)


@router.post("/login")
async def login(request: Request, services: Services = Depends(get_services)) -> Response:
    if _cross_site(request):
        return _forbidden()
    body = (await request.body())[:4096].decode("utf-8", "replace")
    key = (parse_qs(body).get("key") or [""])[0].strip()
    try:
        authorize(services, {"authorization": f"Bearer {key}"}, client=client_of(request))
    except AuthError as exc:
        return _login(request, exc.detail, status=exc.status)
    started = await run_in_threadpool(start_session, services.store, key)
    if started is None:  # revoked between the two reads
        return _login(request, "Unknown or revoked key.", status=401)
    setting = request.app.state.settings.cookie_secure
    secure = request.url.scheme == "https" if setting is None else setting
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, started[0], httponly=True, samesite="strict", secure=secure, max_age=7 * 86400
    )
    return response


@router.get("/logout")
async def logout(request: Request, services: Services = Depends(get_services)) -> Response:
    await run_in_threadpool(end_session, services.store, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/users", response_class=HTMLResponse)
async def find_user(id: str = "") -> Response:
    return RedirectResponse(f"/users/{quote(id, safe='')}", status_code=303)


@router.get("/users/{user_id:path}", response_class=HTMLResponse)
async def user_page(
    user_id: str, request: Request, services: Services = Depends(get_services)
) -> Response:
    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    profile = await run_in_threadpool(
        user_profile, services.features, services.stream, key.project_id, user_id, 50
    )
    if profile is None:
        return HTMLResponse(f"<p>No user {html.escape(user_id)} in this project.</p>", 404)
    return templates.TemplateResponse(
        request, "user.html", {"profile": profile, "project": key.project_id}
    )


@router.get("/generations", response_class=HTMLResponse)
async def generations_page(
    request: Request, services: Services = Depends(get_services)
) -> Response:
    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    records = await run_in_threadpool(services.generations.recent, key.project_id)
    return templates.TemplateResponse(
        request, "generations.html", {"generations": records, "project": key.project_id}
    )


@router.get("/feedback", response_class=HTMLResponse)
async def feedback_page(request: Request, services: Services = Depends(get_services)) -> Response:
    from tailorai.feedback import FeedbackLog, Rewards
    from tailorai.feedback.rewards import over_time

    key = _signed_in(request, services)
    if key is None:
        return _login(request)

    def load() -> dict[str, Any]:
        Rewards(services.store).refresh(key.project_id)
        return {
            "rows": over_time(services.store, key.project_id),
            "recent": FeedbackLog(services.store).find(key.project_id, limit=30),
            "project": key.project_id,
        }

    return templates.TemplateResponse(request, "feedback.html", await run_in_threadpool(load))


@router.get("/experiments", response_class=HTMLResponse)
async def experiments_page(
    request: Request, services: Services = Depends(get_services)
) -> Response:
    from tailorai.rollout.experiments import Experiments

    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    found = await run_in_threadpool(
        lambda: Experiments(services.store, project=key.project_id).list()
    )
    return templates.TemplateResponse(
        request, "experiments.html", {"experiments": found, "project": key.project_id}
    )


@router.get("/review", response_class=HTMLResponse)
async def review_page(request: Request, services: Services = Depends(get_services)) -> Response:
    from tailorai.audit.review import ReviewQueue

    session = _session(request, services)
    if session is None:
        return _login(request)
    key = session.key
    queue = ReviewQueue(services.store, project=key.project_id)
    items = await run_in_threadpool(lambda: queue.items(limit=50))
    return templates.TemplateResponse(
        request,
        "review.html",
        {
            "items": items,
            "project": key.project_id,
            "reviewer": key.name or key.prefix,
            "csrf": session.csrf,
        },
    )


@router.post("/review/{item_id}")
async def review_decision(
    item_id: int, request: Request, services: Services = Depends(get_services)
) -> Response:
    from tailorai.audit.review import ReviewQueue, StaleReview, UnknownReviewItem
    from tailorai.errors import ConfigError

    if _cross_site(request):
        return _forbidden()
    session = _session(request, services)
    if session is None:
        return _login(request)
    key = session.key
    form = parse_qs((await request.body())[:65_536].decode("utf-8", "replace"))
    field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
    if not secrets.compare_digest(field("csrf"), session.csrf):
        return _forbidden()
    queue = ReviewQueue(services.store, project=key.project_id)
    try:
        revision = int(field("revision") or 0)
        await run_in_threadpool(
            lambda: queue.decide(
                item_id,
                field("action"),
                reviewer=key.name or key.prefix,
                revision=revision,
                text=field("text") or None,
                note=field("note") or None,
            )
        )
    except (UnknownReviewItem, StaleReview, ConfigError, ValueError) as exc:
        status = (
            404
            if isinstance(exc, UnknownReviewItem)
            else 409
            if isinstance(exc, StaleReview)
            else 400
        )
        return HTMLResponse(
            f"<p>{html.escape(str(exc))}</p><p><a href='/review'>Back</a></p>", status
        )
    return RedirectResponse("/review", status_code=303)


@router.get("/models", response_class=HTMLResponse)
async def models_page(request: Request, services: Services = Depends(get_services)) -> Response:
    """Every version of the project, its stage and its last audit's verdict."""
    from tailorai.training.registry import Registry

    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    versions = await run_in_threadpool(
        lambda: Registry(services.store, project=key.project_id).list()
    )
    return templates.TemplateResponse(
        request,
        "models.html",
        {"versions": sorted(versions, key=lambda v: v.created_at, reverse=True),
         "project": key.project_id},
    )  # fmt: skip


def _report_of(audit_json: Path, project: str, ref: str) -> bool:
    """Whether the audit written at `audit_json` is of `project`'s version `ref` (a folder may
    have been written over by another project's audit of a version of the same name)."""
    import json

    try:
        written = json.loads(audit_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return written.get("project") == project and written.get("version") == ref


@router.get("/models/{ref}/audit", response_class=HTMLResponse)
async def audit_report(
    ref: str, request: Request, services: Services = Depends(get_services)
) -> Response:
    """The HTML report of a version's last audit, as `tailor audit` wrote it."""
    from tailorai.errors import RegistryError
    from tailorai.training.registry import Registry

    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    try:
        version = await run_in_threadpool(
            lambda: Registry(services.store, project=key.project_id).get(ref)
        )
    except RegistryError as exc:
        return HTMLResponse(f"<p>{html.escape(str(exc))}</p><p><a href='/models'>Back</a></p>", 404)
    written = (version.audit or {}).get("report")
    page = Path(written).with_name("report.html") if written else None
    if page is None or not page.is_file() or not _report_of(Path(written), key.project_id, ref):
        return HTMLResponse(
            f"<p>No audit report of {html.escape(version.ref)} on this server: run "
            f"<code>tailor audit --version {html.escape(version.ref)}</code>.</p>"
            "<p><a href='/models'>Back</a></p>",
            404,
        )
    return HTMLResponse(await run_in_threadpool(page.read_text, "utf-8"))
