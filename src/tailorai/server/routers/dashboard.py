"""The dashboard: server-rendered pages, signed in with a secret key kept in a cookie.

The cookie is HttpOnly and SameSite=Strict and holds the key itself; the key is checked on
every page like any API call.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tailorai.events.stats import event_counts, events_per_minute
from tailorai.projects import ApiKey
from tailorai.segments import user_profile
from tailorai.server.auth import AuthError
from tailorai.server.deps import Services, authorize, client_of, get_services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
COOKIE = "tailor_key"


def _signed_in(request: Request, services: Services) -> ApiKey | None:
    key = request.cookies.get(COOKIE)
    if not key:
        return None
    try:
        return authorize(services, {"authorization": f"Bearer {key}"}, client=client_of(request))
    except AuthError as exc:
        if exc.status == 429:
            raise  # rate-limited, not signed out: 429 with Retry-After
        return None


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
    body = (await request.body())[:4096].decode("utf-8", "replace")
    key = (parse_qs(body).get("key") or [""])[0].strip()
    try:
        authorize(services, {"authorization": f"Bearer {key}"}, client=client_of(request))
    except AuthError as exc:
        return _login(request, exc.detail, status=exc.status)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict", max_age=7 * 86400)
    return response


@router.get("/logout")
async def logout() -> Response:
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

    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    queue = ReviewQueue(services.store, project=key.project_id)
    items = await run_in_threadpool(lambda: queue.items(limit=50))
    return templates.TemplateResponse(
        request,
        "review.html",
        {"items": items, "project": key.project_id, "reviewer": key.name or key.prefix},
    )


@router.post("/review/{item_id}")
async def review_decision(
    item_id: int, request: Request, services: Services = Depends(get_services)
) -> Response:
    from tailorai.audit.review import ReviewQueue, StaleReview, UnknownReviewItem
    from tailorai.errors import ConfigError

    key = _signed_in(request, services)
    if key is None:
        return _login(request)
    form = parse_qs((await request.body())[:65_536].decode("utf-8", "replace"))
    field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
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
