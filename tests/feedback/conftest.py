from tests.server.conftest import live  # noqa: F401  (the real-server fixture)
