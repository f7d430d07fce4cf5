"""Shared fixtures: real shipped samples, an isolated TAILOR_HOME and database per session, and
a store URL on SQLite and on PostgreSQL (when TAILOR_TEST_POSTGRES_URL names one, as in CI)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "tailorai" / "assets" / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Set before tailorai reads settings, so no test touches ./tailor.db or ./.tailor.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tailor-test-home-"))
os.environ["TAILOR_HOME"] = str(_SESSION_HOME)
os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{_SESSION_HOME / 'tailor.db'}"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tokenizer():
    """The shipped model's tokenizer, converted from GGUF once per session."""
    from tailorai.training import load_tokenizer

    return load_tokenizer()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh database URL for a `Store`: a SQLite file, then a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tailor.db'}"
        return
    base = os.environ.get("TAILOR_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TAILOR_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL for this)")
    # A schema of its own per test keeps tests independent on one database.
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{base}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
