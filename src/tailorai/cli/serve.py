"""`tailor serve`: the HTTP server."""

from __future__ import annotations

import gc
from pathlib import Path

import typer

from tailorai.settings import get_settings

__all__ = ["serve_command"]


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: all)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    rate_limit: float = typer.Option(
        1000.0, help="Requests a second per key, in bursts of as many; 0 for no limit."
    ),
    config: Path | None = typer.Option(None, "--config", help="A tailor.yaml to read."),
) -> None:
    """Serve event capture, users, segments and the dashboard over HTTP (OpenAPI at /docs).

    Example: tailor serve --port 8000   (then: tailor keys create --kind public)
    """
    import uvicorn

    from tailorai.server import create_app
    from tailorai.store import Store

    settings = get_settings(config)
    store = Store(settings.database_url)
    store.checkpoint_in_background()
    app = create_app(
        store, rate_limit=rate_limit, home=settings.home, events_url=settings.events_url
    )
    gc.freeze()  # what startup made lives forever: spare the collector from walking it
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
