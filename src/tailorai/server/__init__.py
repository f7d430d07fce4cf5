"""The HTTP server (`tailor serve`): FastAPI, one router per stage."""

from __future__ import annotations

from tailorai.server.app import create_app

__all__ = ["create_app"]
