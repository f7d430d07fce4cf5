"""`create_app()`: the HTTP server, assembled from one router per stage.

uvicorn --factory tailorai.server:create_app     # or: tailor serve
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from tailorai.events import SqlEventStream
from tailorai.events.collector import Collector
from tailorai.events.streams import open_stream
from tailorai.generation.generation_log import GenerationLog
from tailorai.generation.variants import Variants
from tailorai.segments import FeatureStore
from tailorai.segments.segmentation import Assigner, Segmentations
from tailorai.server.auth import HeaderLimit, KeyCache, RateLimiter
from tailorai.server.deps import Services
from tailorai.server.errors import install_error_handlers
from tailorai.server.routers import (
    campaigns,
    capture,
    dashboard,
    experiments,
    feedback,
    generate,
    generations,
    health,
    openai_chat,
    review,
    segments,
    users,
    variants,
)
from tailorai.settings import get_settings

__all__ = ["create_app"]


def create_app(
    store: Any = None,
    *,
    rate_limit: float = 1000.0,
    home: Path | None = None,
    events_url: str | None = None,
    backend: Any = None,
) -> FastAPI:
    """The app on `store` (default: the settings' database) and `home` (artifacts: default the
    settings' `TAILOR_HOME`); `rate_limit` calls a second per key (bursts of as many), 0 for
    none. With `events_url` (Redis or Kafka) captured events go there first and a
    `tailor events consume` process stores them and updates features. `backend` serves
    generations (default: a `LocalBackend` on the settings' base model, made on first use)."""
    from tailorai import __version__
    from tailorai.store import Store

    settings = get_settings()
    # What this app really runs on, whether it came from the arguments or the settings.
    settings = settings.model_copy(
        update={"home": home or settings.home, "events_url": events_url or settings.events_url}
    )
    home, events_url = settings.home, settings.events_url
    store = store or Store(settings.database_url)
    app = FastAPI(
        title="tailorai",
        version=__version__,
        description="Personalized AI content: event capture, users, segments, generation.",
    )
    segmentations = Segmentations(store, home)
    stream = SqlEventStream(store)
    features = FeatureStore(store, Assigner(segmentations))
    app.state.settings = settings
    app.state.services = Services(
        store=store,
        stream=stream,
        features=features,
        segmentations=segmentations,
        generations=GenerationLog(store),
        variants=Variants(store, features),
        collector=(
            Collector(open_stream(events_url)) if events_url else Collector(stream, features)
        ),
        keys=KeyCache(store),
        limiter=RateLimiter(rate_limit),
        consent=capture.OptOuts(store),
        # The model loads on the first generation, not at start-up.
        make_backend=(lambda: backend) if backend is not None else _local_backend(settings),
    )
    # Capture is called from customers' pages on other origins; keys, not cookies, authorize.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Content-Encoding", "X-Write-Key"],
        max_age=86400,
    )
    app.add_middleware(HeaderLimit)  # outermost: before CORS, routes and key lookups
    install_error_handlers(app)
    app.include_router(capture.router)
    app.include_router(capture.script_router)
    app.include_router(users.router)
    app.include_router(segments.router)
    app.include_router(generations.router)
    app.include_router(generate.router)
    app.include_router(openai_chat.router)
    app.include_router(variants.router)
    app.include_router(campaigns.router)
    app.include_router(feedback.router)
    app.include_router(experiments.router)
    app.include_router(review.router)
    app.include_router(campaigns.click_router)
    app.include_router(dashboard.router)
    app.include_router(health.router)
    return app


def _local_backend(settings: Any) -> Any:
    def make() -> Any:
        from tailorai.generation import backend_from_settings

        return backend_from_settings(settings)

    return make
