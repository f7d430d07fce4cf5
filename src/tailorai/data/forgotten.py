"""Users erased on request stay out of every dataset made after (see `tailorai.privacy`)."""

from __future__ import annotations

from collections.abc import Collection

from tailorai.data.step import Filter
from tailorai.privacy import user_hash
from tailorai.records import Conversation

__all__ = ["ForgottenUsers"]


class ForgottenUsers(Filter):
    """Drops, as `forgotten`, every record of a user whose tombstone is in `hashes`."""

    name = "forgotten"

    def __init__(self, project: str, hashes: Collection[str]) -> None:
        super().__init__()
        self.project = project
        self.hashes = frozenset(hashes)

    def keep(self, record: Conversation) -> bool | tuple[bool, str]:
        if record.user_id and user_hash(self.project, str(record.user_id)) in self.hashes:
            return False, "forgotten"
        return True
