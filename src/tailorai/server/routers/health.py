"""`GET /health`: for load balancers and `tailor serve` users: is it up, and on what."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from tailorai.server.deps import Services, get_services, get_settings
from tailorai.settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", summary="Whether the server is up, and its back ends")
def health(
    services: Services = Depends(get_services), settings: Settings = Depends(get_settings)
) -> dict[str, Any]:
    from tailorai import __version__

    events = settings.events_url.split("://", 1)[0] if settings.events_url else "sql"
    return {
        "status": "ok",
        "version": __version__,
        "database": services.store.engine.dialect.name,
        "events": events,
    }
