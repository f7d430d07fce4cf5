"""Errors become JSON once, here: `{"detail": ..., "code": ...}` with the right status."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from tailorai.errors import ConfigError, DataError, FrequencyCapped, RegistryError, TailorError
from tailorai.server.auth import AuthError
from tailorai.server.body import BodyError

__all__ = ["install_error_handlers"]

log = logging.getLogger("tailorai.server")

_STATUS = {ConfigError: 400, DataError: 400, RegistryError: 404, FrequencyCapped: 429}


def _error(status: int, detail: str, code: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BodyError)
    async def body_error(_request: Request, exc: BodyError) -> JSONResponse:
        return _error(exc.status, exc.detail, exc.code)

    @app.exception_handler(AuthError)
    async def auth_error(_request: Request, exc: AuthError) -> JSONResponse:
        headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.status == 429 else {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _error(exc.status, exc.detail, exc.code, **headers)

    @app.exception_handler(TailorError)
    async def tailor_error(_request: Request, exc: TailorError) -> JSONResponse:
        status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 500)
        return _error(status, str(exc), type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        # Unreadable JSON is a bad request; readable JSON with a wrong value (7 stars) is
        # unprocessable, naming the field.
        status = 400 if any(e["type"] == "json_invalid" for e in exc.errors()) else 422
        return _error(status, "; ".join(parts) or "Invalid request.", "invalid_request")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "http_error", **(exc.headers or {}))

    @app.exception_handler(ClientDisconnect)
    async def client_left(_request: Request, _exc: ClientDisconnect) -> JSONResponse:
        # The client hung up mid-body (a closing browser tab): nothing was stored, nobody
        # hears this answer, and it is not a server error.
        return _error(400, "The client disconnected before sending the whole body.", "left")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "Internal error; the server log has the details.", "internal")
