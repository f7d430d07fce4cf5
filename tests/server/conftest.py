"""A real server: uvicorn on a free loopback port, in a thread, on a fresh SQLite store."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from tailorai.projects import create_key
from tailorai.server import create_app
from tailorai.store import Store


@dataclass
class LiveServer:
    url: str
    store: Any
    app: Any
    public_key: str
    secret_key: str

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: Any, port: int | None = None) -> Iterator[str]:
    port = port or _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live(tmp_path) -> Iterator[LiveServer]:
    store = Store(f"sqlite:///{tmp_path / 'server.db'}")
    public, secret = create_key(store, "shop", "public"), create_key(store, "shop", "secret")
    app = create_app(store, rate_limit=0)
    for url in serve(app):
        yield LiveServer(url, store, app, public, secret)
    store.close()


def sign_in(http: Any, key: str) -> None:
    """Sign `http` (an httpx client on a live server) in to the dashboard with `key`, as the
    sign-in form does: the session cookie it answers with stays in the client."""
    answer = http.post("/login", data={"key": key}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
