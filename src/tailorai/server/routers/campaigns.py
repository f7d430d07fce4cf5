"""Campaigns over HTTP: render emails for users, and the click redirect the emails link to.

- `GET /v1/campaigns`: the campaigns this server knows (`<home>/campaigns/NAME.yaml` and the
  shipped examples);
- `POST /v1/campaigns/{name}/render` `{user_ids | segment, limit}`: learn from the clicks so
  far, then decide, write and render one email per user (secret key);
- `GET /v1/c/{send_id}/{block}`: records an "Email Clicked" event and redirects to the block's
  link. No key: it is what a reader's click opens, and the unguessable send id is the proof.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tailorai.campaigns.engine import CLICK_EVENT, CampaignEngine
from tailorai.campaigns.render import render_campaign
from tailorai.campaigns.spec import campaign_files, find_campaign
from tailorai.errors import ConfigError
from tailorai.events import parse_event
from tailorai.projects import ApiKey
from tailorai.server.body import JSONRoute
from tailorai.server.deps import Services, backend_failures, get_services, secret_key
from tailorai.store.tables import CampaignSendRow

__all__ = ["click_router", "router"]

router = APIRouter(prefix="/v1", tags=["campaigns"], route_class=JSONRoute)


def public_url(request: Request) -> str:
    """The base of the links in emails: the configured `public_url`, else the address this
    server listens on. Never the request's Host header: whoever sends the request picks it,
    and the links go to every recipient."""
    configured = request.app.state.settings.public_url
    if configured:
        return str(configured).rstrip("/")
    host, port = request.scope.get("server") or ("127.0.0.1", 8000)
    scheme = request.scope.get("scheme", "http")
    return f"{scheme}://{host}:{port}"


click_router = APIRouter(tags=["campaigns"])


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[str] | None = Field(
        None, max_length=1000, description="These users (unknown ones are cold starts)."
    )
    segment: str | None = Field(None, max_length=255, description="Or everyone in a segment.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many emails.")


@router.get("/campaigns", summary="The campaigns this server can render")
async def list_campaigns(
    request: Request, key: ApiKey = Depends(secret_key)
) -> dict[str, list[str]]:
    return {"campaigns": sorted(campaign_files(request.app.state.settings.home))}


@router.post("/campaigns/{name}/render", summary="Emails for users, blocks chosen by the bandit")
async def render(
    name: str,
    body: RenderIn,
    request: Request,
    key: ApiKey = Depends(secret_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    home = request.app.state.settings.home
    if (body.user_ids is None) == (body.segment is None):
        raise HTTPException(422, "Give exactly one of `user_ids` or `segment`.")
    try:
        campaign = await run_in_threadpool(find_campaign, name, home)
    except ConfigError as exc:  # the operator's file is broken: say where
        raise HTTPException(422, str(exc)) from exc
    if campaign is None:
        known = ", ".join(sorted(campaign_files(home))) or "none"
        raise HTTPException(
            404,
            f"Unknown campaign {name!r}. Known campaigns: {known}. Add <home>/campaigns/"
            f"{name}.yaml to serve it.",
        )
    if body.segment is not None:
        users = await run_in_threadpool(
            services.features.users_in, key.project_id, body.segment, body.limit
        )
        if not users:
            raise HTTPException(404, f"No users in segment {body.segment!r}.")
    else:
        users = list(dict.fromkeys(u for u in body.user_ids or [] if u))[: body.limit]
    personalizer = await run_in_threadpool(services.personalizer, key.project_id)
    if campaign.task not in personalizer.templates.tasks:
        raise HTTPException(
            422,
            f"Campaign {name!r} writes its copy with task {campaign.task!r}, which the prompt "
            f"templates lack. Known tasks: {', '.join(sorted(personalizer.templates.tasks))}.",
        )
    engine = CampaignEngine(services.store, campaign, project=key.project_id)
    click_url = public_url(request)
    with backend_failures():
        emails = await run_in_threadpool(
            render_campaign, engine, personalizer, users, click_url=click_url
        )
    return {
        "campaign": campaign.name,
        "emails": [e.as_dict() for e in emails],
        "skipped": len(users) - len(emails),
    }


@click_router.get("/v1/c/{send_id}/{block}", summary="Record a click in an email, then go on")
async def click(
    send_id: str, block: str, services: Services = Depends(get_services)
) -> RedirectResponse:
    def find() -> Any:
        with services.store.session() as s:
            return s.execute(
                select(
                    CampaignSendRow.project_id,
                    CampaignSendRow.campaign,
                    CampaignSendRow.user_key,
                    CampaignSendRow.position,
                    CampaignSendRow.generation_id,
                    CampaignSendRow.link,
                ).where(CampaignSendRow.send_id == send_id, CampaignSendRow.block == block)
            ).first()

    found = await run_in_threadpool(find) if len(send_id) <= 32 and len(block) <= 100 else None
    if found is None:
        raise HTTPException(404, "This link is not one of ours, or its email is gone.")
    project, campaign, user, position, generation_id, link = found
    event = parse_event(
        {
            "type": "track",
            "event": CLICK_EVENT,
            "userId": user,
            "messageId": f"click-{send_id}-{block}",  # a second click of a link counts once
            "properties": {
                "campaign": campaign,
                "send_id": send_id,
                "block": block,
                "position": position,
                "generation_id": generation_id,
            },
            "context": {"source": "email"},
        },
        datetime.now(UTC),
    )
    await asyncio.wrap_future(services.collector.submit(project, [event]))
    return RedirectResponse(link, status_code=302)
