"""The SQL store: SQLite file by default, PostgreSQL by `TAILOR_DATABASE_URL`."""

from __future__ import annotations

from tailorai.store.store import Store
from tailorai.store.tables import Base, DatasetRow, ModelVersionRow, PromotionRow, UserRow

__all__ = ["Base", "DatasetRow", "ModelVersionRow", "PromotionRow", "Store", "UserRow"]
