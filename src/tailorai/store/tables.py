"""The tables: SQLAlchemy 2 declarative models. Change them only together with a migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "DEFAULT_PROJECT",
    "ApiKeyRow",
    "Base",
    "CampaignSendRow",
    "CampaignStateRow",
    "CursorRow",
    "DatasetRow",
    "EventRow",
    "ExperimentRow",
    "ExperimentUnitRow",
    "FatigueEventRow",
    "FeedbackRow",
    "GenerationRewardRow",
    "GenerationRow",
    "ModelVersionRow",
    "ProjectRow",
    "PromotionRow",
    "RetrainRunRow",
    "ReviewItemRow",
    "SegmentAssignmentRow",
    "SegmentationRow",
    "UserFeatureRow",
    "UserRow",
    "VariantRow",
]


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


DEFAULT_PROJECT = "default"


class UserRow(Base):
    """A user of the customer's product, as seen in its data: one row per project and user id."""

    __tablename__ = "users"

    project_id: Mapped[str] = mapped_column(
        String(64), primary_key=True, server_default=DEFAULT_PROJECT
    )
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    traits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[datetime] = mapped_column(default=_now)
    last_seen: Mapped[datetime] = mapped_column(default=_now)


class DatasetRow(Base):
    """A prepared dataset on disk, named by the hash of its files, with its lineage."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_PROJECT)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    train_examples: Mapped[int] = mapped_column(Integer)
    validation_examples: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ModelVersionRow(Base):
    """A registered model version `name@version`, with its lineage; files live at `path`."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "name", "version", name="uq_model_versions_project_name_version"
        ),
        # The database itself guarantees one production version per scope, even when two
        # promotions race.
        Index(
            "ix_model_versions_one_production_per_scope",
            "project_id",
            "scope",
            unique=True,
            sqlite_where=text("stage = 'production'"),
            postgresql_where=text("stage = 'production'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_PROJECT)
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(300), index=True)
    method: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    base_model: Mapped[str] = mapped_column(Text)
    dataset_id: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    chat_template: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    audit: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the last audit's verdict


class PromotionRow(Base):
    """One promotion of a version to production in its scope, with the version it replaced.

    The rows of a scope form a stack that rollback pops: undoing the newest promotion not yet
    rolled back puts `previous_version_id` back into production, exactly.
    """

    __tablename__ = "model_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_PROJECT)
    scope: Mapped[str] = mapped_column(String(300), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    promoted_at: Mapped[datetime] = mapped_column(default=_now)
    rolled_back_at: Mapped[datetime | None] = mapped_column()


class ProjectRow(Base):
    """A customer's product: every event and key belongs to exactly one project."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class ApiKeyRow(Base):
    """A key of a project: `public` (event capture only, may sit in web pages) or `secret`.

    Only the SHA-256 of the key is stored; keys are 32 random bytes, so a plain hash is enough.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings, enough to tell apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column()


class DashboardSessionRow(Base):
    """A signed-in dashboard browser. The cookie holds a random token, the table its SHA-256:
    signing out deletes the row, and a revoked key ends its sessions at once."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # the token every form of the session carries
    created_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime] = mapped_column()


class EventRow(Base):
    """A stored event. `(project_id, message_id)` is unique: a retried send is stored once."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("project_id", "message_id", name="uq_events_project_message"),
        Index("ix_events_project_user", "project_id", "user_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    message_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    event: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    anonymous_id: Mapped[str | None] = mapped_column(String(255))
    user_key: Mapped[str] = mapped_column(String(255))  # user id, else anonymous id
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timestamp: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)


class UserFeatureRow(Base):
    """A user's running feature state (`segments.UserFeatures`) and current segment."""

    __tablename__ = "user_features"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    segment: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class SegmentationRow(Base):
    """A fitted segmentation of a project's users, version N; the model file lives at `path`.

    At most one per project is in production: it names the segments users are assigned to."""

    __tablename__ = "segmentations"
    __table_args__ = (
        UniqueConstraint("project_id", "version", name="uq_segmentations_project_version"),
        Index(
            "ix_segmentations_one_production",
            "project_id",
            unique=True,
            sqlite_where=text("stage = 'production'"),
            postgresql_where=text("stage = 'production'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    method: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)  # names, profiles, scores
    path: Mapped[str] = mapped_column(Text)
    users: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class SegmentAssignmentRow(Base):
    """A user's move into a segment, with when: the history of real-time assignment."""

    __tablename__ = "segment_assignments"
    __table_args__ = (Index("ix_segment_assignments_user", "project_id", "user_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_key: Mapped[str] = mapped_column(String(255))
    segment: Mapped[str | None] = mapped_column(String(255))
    previous: Mapped[str | None] = mapped_column(String(255))
    segmentation_id: Mapped[int] = mapped_column(ForeignKey("segmentations.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=_now)


class GenerationRow(Base):
    """One generated output and everything that made it: the record feedback attaches to."""

    __tablename__ = "generations"
    __table_args__ = (
        Index("ix_generations_project_created", "project_id", "created_at"),
        Index("ix_generations_project_user", "project_id", "user_key", "created_at"),
        Index("ix_generations_project_arm", "project_id", "experiment_arm"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_key: Mapped[str | None] = mapped_column(String(255))  # None: an anonymous request
    segment: Mapped[str | None] = mapped_column(String(255))
    task: Mapped[str] = mapped_column(String(100))
    rung: Mapped[str] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(120))  # registry ref
    adapter: Mapped[str | None] = mapped_column(String(300))
    template_version: Mapped[str | None] = mapped_column(String(120))
    experiment_arm: Mapped[str | None] = mapped_column(String(120))
    backend: Mapped[str] = mapped_column(String(32))
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prompt: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the messages the model read
    output: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(16))  # "stop" or "length"
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    mean_logprob: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class VariantRow(Base):
    """Content generated ahead of time for one segment: served without waiting on a model."""

    __tablename__ = "variants"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # task, or task/key
    segment: Mapped[str] = mapped_column(String(255), primary_key=True)  # "default": anyone
    task: Mapped[str] = mapped_column(String(100))
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"))
    output: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class CampaignSendRow(Base):
    """One block of one campaign email: where the bandit put it, how likely it was to, and
    whether the user clicked it."""

    __tablename__ = "campaign_sends"
    __table_args__ = (
        UniqueConstraint("send_id", "block", name="uq_campaign_sends_send_block"),
        Index("ix_campaign_sends_campaign_user", "project_id", "campaign", "user_key"),
        Index("ix_campaign_sends_campaign_id", "project_id", "campaign", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    campaign: Mapped[str] = mapped_column(String(100))
    send_id: Mapped[str] = mapped_column(String(32))  # one email; unguessable (it is in links)
    user_key: Mapped[str] = mapped_column(String(255))
    block: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)  # 0: first
    propensity: Mapped[float] = mapped_column(Float)
    policy: Mapped[str] = mapped_column(String(32))
    context: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the bandit's x
    link: Mapped[str] = mapped_column(Text)
    generation_id: Mapped[str | None] = mapped_column(String(32))
    clicked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=_now)


class CampaignStateRow(Base):
    """A campaign's bandit, learned from its sends up to `send_cursor` and from click events up
    to `event_cursor`."""

    __tablename__ = "campaign_states"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_cursor: Mapped[int] = mapped_column(Integer, default=0)
    event_cursor: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class FeedbackRow(Base):
    """What a user said about one generation: thumbs, stars, a comment, their corrected text."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key", name="uq_feedback_project_key"),
        Index("ix_feedback_generation", "generation_id"),
        Index("ix_feedback_project_created", "project_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"))
    user_key: Mapped[str | None] = mapped_column(String(255))
    thumbs: Mapped[int | None] = mapped_column(Integer)  # +1 up, -1 down
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5 stars
    comment: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[str | None] = mapped_column(Text)  # the output as the user would have it
    source: Mapped[str] = mapped_column(String(16))  # api, tracker, client, import
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=_now)


class GenerationRewardRow(Base):
    """Everything known about how one generation landed, explicit and implicit, and the reward
    that combines it (`feedback/rewards.py` documents the formula)."""

    __tablename__ = "generation_rewards"
    __table_args__ = (Index("ix_generation_rewards_user", "project_id", "user_key"),)

    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_key: Mapped[str | None] = mapped_column(String(255))
    thumbs: Mapped[int | None] = mapped_column(Integer)  # the latest
    rating: Mapped[int | None] = mapped_column(Integer)  # the latest
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    exposures: Mapped[int] = mapped_column(Integer, default=0)
    exposed_at: Mapped[datetime | None] = mapped_column()
    last_activity: Mapped[datetime | None] = mapped_column()  # the user's, after exposure
    clicked: Mapped[bool] = mapped_column(Boolean, default=False)
    dwell_s: Mapped[float | None] = mapped_column(Float)
    converted: Mapped[bool] = mapped_column(Boolean, default=False)
    session_s: Mapped[float] = mapped_column(Float, default=0.0)
    reward: Mapped[float] = mapped_column(Float, default=0.0)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class CursorRow(Base):
    """How far a consumer of the event table has read, per project."""

    __tablename__ = "cursors"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class ExperimentRow(Base):
    """A controlled rollout: arms (model versions of one scope) with weights, a traffic ramp,
    the metric and guardrails that decide it, and what was decided."""

    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_experiments_project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(300))  # the registry scope it tries versions for
    salt: Mapped[str] = mapped_column(String(100))
    arms: Mapped[list[Any]] = mapped_column(JSON)  # [{name, version, weight}], control first
    metric: Mapped[str] = mapped_column(String(32))  # click, conversion or reward
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ramp, alpha, guardrails...
    stage: Mapped[int] = mapped_column(Integer, default=0)  # index into the ramp
    stage_started_at: Mapped[datetime] = mapped_column(default=_now)
    status: Mapped[str] = mapped_column(String(16), default="running")
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)  # running minimum p-values
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the last evaluation
    started_at: Mapped[datetime] = mapped_column(default=_now)
    decided_at: Mapped[datetime | None] = mapped_column()


class ExperimentUnitRow(Base):
    """A unit's (user's or visitor's) arm, fixed at first exposure."""

    __tablename__ = "experiment_units"

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(255), primary_key=True)
    arm: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(default=_now)


class RetrainRunRow(Base):
    """One run of the retrain flow: each step's status and output, so a crashed run resumes
    where it stopped and a finished step is never redone."""

    __tablename__ = "retrain_runs"
    __table_args__ = (Index("ix_retrain_runs_project_scope", "project_id", "scope", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    scope: Mapped[str] = mapped_column(String(300))
    trigger: Mapped[str] = mapped_column(String(200))  # manual, schedule, or the threshold hit
    status: Mapped[str] = mapped_column(String(16))  # running, done, skipped, failed
    steps: Mapped[dict[str, Any]] = mapped_column(default=dict)  # name: {status, output, ...}
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class FatigueEventRow(Base):
    """What fatigue control did for a user: a send counted against the caps, a send capped, an
    output regenerated for repeating what the user saw, a user backed off."""

    __tablename__ = "fatigue_events"
    __table_args__ = (
        Index("ix_fatigue_events_user", "project_id", "user_key", "channel", "created_at"),
        Index("ix_fatigue_events_project", "project_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_key: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # sent, capped, repeated, regenerated
    reason: Mapped[str | None] = mapped_column(Text)
    generation_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=_now)


class ReviewItemRow(Base):
    """A generation a check flagged, waiting for (or decided by) a person."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("project_id", "generation_id", name="uq_review_project_generation"),
        Index("ix_review_items_status", "project_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{source, detail}]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    revision: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every change
    reviewer: Mapped[str | None] = mapped_column(String(200))
    edited_output: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    decided_at: Mapped[datetime | None] = mapped_column()


class ForgottenUserRow(Base):
    """A user erased on request: only a hash of the project and id is kept, so data
    preparation and retraining can leave them out of anything made later."""

    __tablename__ = "forgotten_users"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(default=_now)


class ConsentRow(Base):
    """A user (or browser, by anonymous id) who opted out of tracking: capture refuses their
    events until they opt in again."""

    __tablename__ = "consent"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=_now)
