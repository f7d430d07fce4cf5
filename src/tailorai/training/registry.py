"""The model registry: every trained model is a version `name@N` with its lineage.

A version is a folder under `TAILOR_HOME/registry/<name>/<N>/` plus a row in the store. The
folder holds what the trainer wrote (`adapter/` in PEFT format or `model/` from
`save_pretrained`, `tokenizer/`, `metrics.json`, ...) and `version.json`, the version's manifest,
written last. A folder without `version.json` is not a version.

Registering is atomic. Files are copied into a hidden folder beside the target and flushed; then,
inside one database transaction, the next version number is taken by inserting the row (the
unique `(name, version)` key settles races), `version.json` is written, the folder is renamed into
place, and the transaction commits. The commit is the moment a version exists: readers only see
committed rows. A failure before the commit removes the renamed folder; a crash right between the
rename and the commit leaves a folder no row points to, which the next register of that number
sets aside (as a hidden `.orphaned-*` folder) before putting its own in place.

Stages: a version starts as `candidate`; `promote` makes it `production` and archives the
version it replaces in the same scope (a scope has at most one production version, which the
database enforces); `rollback` undoes the newest promotion of a scope exactly, from the
promotion history.

>>> registry = Registry()
>>> v = registry.register("support", "runs/7", scope="global", method="lora",
...                       base_model="Qwen/Qwen2.5-0.5B-Instruct", dataset_id="3f2a...")
>>> registry.promote(v.ref).stage
'production'
>>> registry.export("support", "out/support-adapter", "peft")
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tailorai.errors import ModelError, RegistryError, StoreError
from tailorai.settings import get_settings
from tailorai.store import ModelVersionRow, PromotionRow, Store

__all__ = [
    "EXPORT_FORMATS",
    "METHODS",
    "STAGES",
    "ModelVersion",
    "Registry",
    "RegistryError",
    "parse_ref",
]

# qlora: a LoRA adapter trained on a 4-bit base; served on the full-precision base like any.
METHODS = ("full", "lora", "dora", "qlora", "dpo")
STAGES = ("candidate", "production", "archived")
EXPORT_FORMATS = ("peft", "merged", "openai")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SCOPE = re.compile(r"^(global|segment:.+|user:.+)$")
_MANIFEST = "version.json"
_REGISTER_ATTEMPTS = 20


@dataclass
class ModelVersion:
    """One registered model version and its lineage, as the registry returns it."""

    name: str
    version: int
    ref: str
    scope: str
    method: str
    stage: str
    base_model: str
    dataset_id: str | None
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    chat_template: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The last audit's verdict: {"passed", "reason", "at", "report"}; None: never audited.
    audit: dict[str, Any] | None = None

    @property
    def adapter_path(self) -> Path | None:
        """The PEFT adapter folder of a `lora`/`dora`/`dpo` version; None for a `full` one."""
        return _adapter_dir(self.path) if self.method != "full" else None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (path as text, created_at as ISO 8601)."""
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "scope": self.scope,
            "method": self.method,
            "stage": self.stage,
            "base_model": self.base_model,
            "dataset_id": self.dataset_id,
            "path": str(self.path),
            "config": self.config,
            "metrics": self.metrics,
            "lineage": self.lineage,
            "chat_template": self.chat_template,
            "created_at": self.created_at.isoformat(),
            "audit": self.audit,
        }


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _version(row: ModelVersionRow) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        ref=f"{row.name}@{row.version}",
        scope=row.scope,
        method=row.method,
        stage=row.stage,
        base_model=row.base_model,
        dataset_id=row.dataset_id,
        path=Path(row.path),
        config=dict(row.config),
        metrics=dict(row.metrics),
        lineage=dict(row.lineage),
        chat_template=row.chat_template,
        created_at=_utc(row.created_at),
        audit=dict(row.audit) if row.audit is not None else None,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_dict(what: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-safe copy: paths, dates and sets become text and lists, anything else is refused."""
    try:
        return dict(json.loads(json.dumps(dict(value or {}), default=_plain)))
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"`{what}` must hold plain JSON values (str, numbers, lists, dicts); {exc}. "
            "Convert the value to one of those before registering."
        ) from exc


def _adapter_dir(folder: Path) -> Path | None:
    for candidate in (folder / "adapter", folder):
        if (candidate / "adapter_config.json").is_file():
            return candidate
    return None


def _model_dir(folder: Path) -> Path | None:
    for candidate in (folder / "model", folder):
        if (candidate / "config.json").is_file():
            return candidate
    return None


def _fsync_tree(root: Path) -> None:
    # The manifest must never reach the disk before the files it describes.
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(root)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache  # the code does not change while a process runs
def _code_version() -> dict[str, Any]:
    """The tailorai version and, in a git checkout, the commit the code ran from."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("tailorai")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        package = None
    commit = None
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if done.returncode == 0:
            commit = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass  # no git, or not a checkout: the package version alone identifies the code
    return {"tailorai": package, "git_commit": commit}


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`"support@3"` -> `("support", 3)`; `"support"` -> `("support", None)`."""
    name, at, number = ref.strip().partition("@")
    if not _NAME.match(name) or (at and not number.isdigit()):
        raise RegistryError(
            f"{ref!r} is not a model reference. Use NAME or NAME@VERSION, e.g. support@3."
        )
    return name, int(number) if at else None


class Registry:
    """Model versions in the store, their files under `home/registry/`.

    >>> registry = Registry(Store("sqlite:///tailor.db"), home=Path(".tailor"))
    >>> [v.ref for v in registry.list(stage="production")]
    ['support@2']
    """

    def __init__(
        self, store: Store | None = None, home: Path | None = None, project: str | None = None
    ) -> None:
        """Versions of `project` (default: the settings' `project`, "default"); another
        project's versions are never seen, promoted or exported through this registry."""
        self._owns_store = store is None
        self.store = store if store is not None else Store()
        settings = get_settings()
        self.home = Path(home if home is not None else settings.home).expanduser().resolve()
        self.project = project or settings.project
        self.root = self.home / "registry" / self.project

    def close(self) -> None:
        """Close the store if this registry opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- registering -------------------------------------------------------------------------

    def register(
        self,
        name: str,
        artifact_dir: str | os.PathLike[str],
        *,
        scope: str,
        method: str,
        base_model: str,
        dataset_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        chat_template: str | None = None,
        lineage: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Copy `artifact_dir` into the registry as the next version of `name`, a candidate.

        >>> registry.register("support", "runs/7", scope="segment:vip", method="lora",
        ...                   base_model="stories260k.gguf", dataset_id="3f2a9c")
        ModelVersion(name='support', version=4, ref='support@4', ...)
        """
        source = Path(artifact_dir)
        self._check_new_version(name, source, scope=scope, method=method)
        lineage = _json_dict("lineage", lineage)
        if dataset_id and "dataset_path" not in lineage:
            # Where the training data lives, for `export(..., "openai")` and audits later.
            known = self.store.get_dataset(dataset_id)
            if known is not None:
                lineage["dataset_path"] = known.path
        record = {
            "project_id": self.project,
            "name": name,
            "scope": scope,
            "method": method,
            "stage": "candidate",
            "base_model": str(base_model),
            "dataset_id": dataset_id,
            "config": _json_dict("config", config),
            "metrics": _json_dict("metrics", metrics),
            "lineage": {"code_version": dict(_code_version()), **lineage},
            "chat_template": chat_template,
        }
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        # Copy outside the transaction, so a long copy does not hold the database's write lock.
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True)
            (staging / _MANIFEST).unlink(missing_ok=True)  # only ours may say "complete"
            _fsync_tree(staging)
            for attempt in range(_REGISTER_ATTEMPTS):
                try:
                    return self._commit_version(record, staging, folder)
                except _VersionTaken:
                    if attempt == _REGISTER_ATTEMPTS - 1:
                        raise RegistryError(
                            f"Could not take a version number for {name!r}: other processes "
                            f"registered {_REGISTER_ATTEMPTS} versions of it meanwhile. "
                            "Run the command again."
                        ) from None
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _check_new_version(self, name: str, source: Path, *, scope: str, method: str) -> None:
        if not _NAME.match(name):
            raise RegistryError(
                f"Model name {name!r} is not allowed: use 1-100 letters, digits, '.', '_' or "
                "'-', starting with a letter or digit (it names a folder), e.g. support-vip."
            )
        if not _SCOPE.match(scope):
            raise RegistryError(
                f"Scope {scope!r} is not one of global, segment:NAME or user:ID. "
                "Pass e.g. scope='segment:vip'."
            )
        if method not in METHODS:
            raise RegistryError(f"Method {method!r} is not one of {', '.join(METHODS)}.")
        if not source.is_dir():
            raise RegistryError(
                f"Artifact folder {source} does not exist. Pass the folder the trainer wrote."
            )
        if method == "full" and _model_dir(source) is None:
            raise RegistryError(
                f"Artifact folder {source} holds no model (no model/config.json): a full "
                "fine-tune is registered from the folder its save_pretrained wrote into model/."
            )
        if method != "full" and _adapter_dir(source) is None:
            raise RegistryError(
                f"Artifact folder {source} holds no PEFT adapter (no adapter/adapter_config.json):"
                f" a {method} version is registered from the folder its adapter was saved into "
                "with save_pretrained."
            )
        with self.store.session() as s:
            scopes = set(
                s.scalars(
                    select(ModelVersionRow.scope).where(self._mine, ModelVersionRow.name == name)
                )
            )
        # One scope per name keeps "the production version of NAME" a single version.
        if scopes and scope not in scopes:
            raise RegistryError(
                f"{name!r} already has versions in scope {sorted(scopes)[0]!r}, not {scope!r}: "
                "each model name belongs to one scope. Use another name, e.g. "
                f"{name}-{scope.split(':')[-1]}."
            )

    def _commit_version(self, record: dict[str, Any], staging: Path, folder: Path) -> ModelVersion:
        """Take the next number, publish the folder and commit the row, or leave nothing behind."""
        published: Path | None = None
        try:
            with self.store.session() as s:
                row = self._insert_next(s, record, folder)
                target = Path(row.path)
                version = _version(row)
                manifest = {
                    k: v for k, v in version.as_dict().items() if k not in ("stage", "audit")
                }
                # Stage changes over the version's life and lives in the store alone; the
                # manifest describes what never changes.
                with (staging / _MANIFEST).open("w", encoding="utf-8") as f:
                    f.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                _fsync_dir(staging)
                if target.exists():
                    # We hold the row for this number, so no version owns this folder: a crash
                    # between rename and commit left it. Set aside rather than deleted, in case
                    # another database shares this TAILOR_HOME by mistake.
                    os.replace(target, folder / f".orphaned-{target.name}-{uuid.uuid4().hex[:8]}")
                os.replace(staging, target)
                published = target
                _fsync_dir(folder)
        except BaseException:
            if published is not None:
                # The row did not commit: take the folder back, so nothing half-made is left.
                shutil.rmtree(published, ignore_errors=True)
            raise
        return version

    def _insert_next(self, s: Session, record: dict[str, Any], folder: Path) -> ModelVersionRow:
        latest = s.scalar(
            select(func.max(ModelVersionRow.version)).where(
                self._mine, ModelVersionRow.name == record["name"]
            )
        )
        number = (latest or 0) + 1
        row = ModelVersionRow(
            **record,
            version=number,
            path=str(folder / str(number)),
            created_at=datetime.now(UTC),
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError as exc:
            # Another process took this number first; the caller retries with the next one.
            s.rollback()
            raise _VersionTaken from exc
        return row

    # -- reading -----------------------------------------------------------------------------

    def get(self, ref: str) -> ModelVersion:
        """`"name@3"`: that version; `"name"`: its production version, else its latest one.

        >>> registry.get("support@2").stage
        'archived'
        """
        name, number = parse_ref(ref)
        with self.store.session() as s:
            rows = list(
                s.scalars(
                    select(ModelVersionRow)
                    .where(self._mine, ModelVersionRow.name == name)
                    .order_by(ModelVersionRow.version)
                )
            )
            if not rows:
                raise RegistryError(f"No model named {name!r}. {self._what_exists(s)}")
        if number is None:
            production = [r for r in rows if r.stage == "production"]
            return _version(production[0] if production else rows[-1])
        for row in rows:
            if row.version == number:
                return _version(row)
        known = ", ".join(f"{name}@{r.version}" for r in rows)
        raise RegistryError(f"{name}@{number} does not exist. Versions of {name!r}: {known}.")

    def _what_exists(self, s: Session) -> str:
        counts = s.execute(
            select(ModelVersionRow.name, func.count())
            .where(self._mine)
            .group_by(ModelVersionRow.name)
            .order_by(ModelVersionRow.name)
        ).all()
        if not counts:
            return "The registry is empty: train a model first (tailor train)."
        names = ", ".join(f"{n} ({c} version{'s' if c != 1 else ''})" for n, c in counts)
        return f"Registered: {names}."

    def list(
        self, name: str | None = None, scope: str | None = None, stage: str | None = None
    ) -> builtins.list[ModelVersion]:
        """Versions, by name then version number, optionally of one name, scope or stage."""
        if stage is not None and stage not in STAGES:
            raise RegistryError(f"Stage {stage!r} is not one of {', '.join(STAGES)}.")
        query = (
            select(ModelVersionRow)
            .where(self._mine)
            .order_by(ModelVersionRow.name, ModelVersionRow.version)
        )
        if name is not None:
            query = query.where(ModelVersionRow.name == name)
        if scope is not None:
            query = query.where(ModelVersionRow.scope == scope)
        if stage is not None:
            query = query.where(ModelVersionRow.stage == stage)
        with self.store.session() as s:
            return [_version(row) for row in s.scalars(query)]

    def production(self, scope: str) -> ModelVersion | None:
        """The version in production for `scope`, or None when none was promoted there."""
        with self.store.session() as s:
            row = self._production_row(s, scope)
            return _version(row) if row is not None else None

    @property
    def _mine(self) -> Any:
        return ModelVersionRow.project_id == self.project

    def _production_row(
        self, s: Session, scope: str, *, lock: bool = False
    ) -> ModelVersionRow | None:
        query = select(ModelVersionRow).where(
            self._mine, ModelVersionRow.scope == scope, ModelVersionRow.stage == "production"
        )
        return s.scalar(query.with_for_update() if lock else query)

    def history(self, scope: str) -> builtins.list[dict[str, Any]]:
        """The promotions of `scope`, oldest first: what was promoted, replacing what, when."""
        with self.store.session() as s:
            refs = {
                row.id: f"{row.name}@{row.version}"
                for row in s.scalars(
                    select(ModelVersionRow).where(self._mine, ModelVersionRow.scope == scope)
                )
            }
            events = s.scalars(
                select(PromotionRow)
                .where(PromotionRow.project_id == self.project, PromotionRow.scope == scope)
                .order_by(PromotionRow.id)
            )
            return [
                {
                    "promoted": refs[e.version_id],
                    "replaced": refs.get(e.previous_version_id) if e.previous_version_id else None,
                    "promoted_at": _utc(e.promoted_at).isoformat(),
                    "rolled_back_at": _utc(e.rolled_back_at).isoformat()
                    if e.rolled_back_at
                    else None,
                }
                for e in events
            ]

    # -- stages ------------------------------------------------------------------------------

    def record_audit(self, ref: str, verdict: Mapping[str, Any]) -> ModelVersion:
        """Store an audit's verdict on `ref` (``{"passed": bool, "reason": ...}``)."""
        target = self.get(ref)
        with self.store.session() as s:
            row = s.get(ModelVersionRow, self._row_id(s, target))
            assert row is not None
            row.audit = _json_dict("audit", verdict)
            s.flush()
            return _version(row)

    def promote(self, ref: str, *, force: bool = False) -> ModelVersion:
        """Put `ref` in production for its scope; the version it replaces becomes archived.
        A version whose last audit failed is refused unless `force`.

        >>> registry.promote("support@3").stage
        'production'
        """
        target = self.get(ref)
        if target.audit and target.audit.get("passed") is False and not force:
            raise RegistryError(
                f"{target.ref} failed its audit ({target.audit.get('reason')}), so it cannot go "
                f"to production. Train a better version, or audit it again (`tailor audit "
                f"--version {target.ref}`) once the thresholds are what you want."
            )
        now = datetime.now(UTC)
        with self.store.session() as s:
            row = s.get(ModelVersionRow, self._row_id(s, target), with_for_update=True)
            assert row is not None
            if row.stage == "production":
                return _version(row)  # already there: promoting again changes nothing
            current = self._production_row(s, row.scope, lock=True)
            if current is not None:
                current.stage = "archived"
                # The one-production-per-scope index is checked row by row: archive first.
                s.flush()
            row.stage = "production"
            s.add(
                PromotionRow(
                    project_id=self.project,
                    scope=row.scope,
                    version_id=row.id,
                    previous_version_id=current.id if current is not None else None,
                    promoted_at=now,
                )
            )
            s.flush()
            return _version(row)

    def rollback(self, scope: str | None = None, *, name: str | None = None) -> ModelVersion:
        """Undo the newest promotion of `scope` (or of `name`'s scope); return what is back.

        The production version becomes archived and the one it replaced is production again.
        A scope whose only promotion was its first has nothing to go back to: that is an error
        and nothing changes, as a scope with a production version always keeps one.

        >>> registry.rollback("global").ref
        'support@2'
        """
        if (scope is None) == (name is None):
            raise RegistryError(
                "Pass either a scope (e.g. global, segment:vip) or a model name to roll back."
            )
        if name is not None:
            scope = self.get(name).scope
        assert scope is not None
        now = datetime.now(UTC)
        with self.store.session() as s:
            current = self._production_row(s, scope, lock=True)
            if current is None:
                raise RegistryError(
                    f"Scope {scope!r} has no version in production, so there is nothing to roll "
                    f"back. {self._production_scopes(s)}"
                )
            event = s.scalar(
                select(PromotionRow)
                .where(
                    PromotionRow.project_id == self.project,
                    PromotionRow.scope == scope,
                    PromotionRow.rolled_back_at.is_(None),
                )
                .order_by(PromotionRow.id.desc())
                .limit(1)
                .with_for_update()
            )
            current_ref = f"{current.name}@{current.version}"
            if event is None or event.version_id != current.id:
                raise RegistryError(
                    f"The promotion history of scope {scope!r} does not end with {current_ref}, "
                    "which is in production; roll back by promoting the version you want."
                )
            if event.previous_version_id is None:
                raise RegistryError(
                    f"{current_ref} was the first version promoted in scope {scope!r}: there is "
                    "no earlier production version to roll back to, and a scope keeps its "
                    f"production version. Promote another version of {current.name!r} instead."
                )
            previous = s.get(ModelVersionRow, event.previous_version_id, with_for_update=True)
            assert previous is not None
            current.stage = "archived"
            s.flush()
            previous.stage = "production"
            event.rolled_back_at = now
            s.flush()
            return _version(previous)

    def _production_scopes(self, s: Session) -> str:
        rows = s.scalars(
            select(ModelVersionRow)
            .where(self._mine, ModelVersionRow.stage == "production")
            .order_by(ModelVersionRow.scope)
        ).all()
        if not rows:
            return "No scope has a production version yet: promote one with tailor models promote."
        return (
            "In production: " + ", ".join(f"{r.scope} ({r.name}@{r.version})" for r in rows) + "."
        )

    def _row_id(self, s: Session, version: ModelVersion) -> int:
        row_id = s.scalar(
            select(ModelVersionRow.id).where(
                self._mine,
                ModelVersionRow.name == version.name,
                ModelVersionRow.version == version.version,
            )
        )
        if row_id is None:  # pragma: no cover - removed between get and now
            raise RegistryError(f"{version.ref} disappeared from the registry; try again.")
        return int(row_id)

    # -- export ------------------------------------------------------------------------------

    def export(self, ref: str, out: str | os.PathLike[str], format: str = "peft") -> Path:
        """Write version `ref` to `out` as `peft`, `merged` or `openai`; return what was written.

        `peft` is the adapter folder (vLLM `--enable-lora`, LoRAX and PEFT load it unchanged);
        `merged` is base + adapter merged into one transformers model folder with its tokenizer
        and chat template; `openai` is the version's training data as OpenAI fine-tuning JSONL
        (a file; inside `out` when `out` is a folder).

        >>> registry.export("support@3", "exports/support-3", "merged")
        PosixPath('exports/support-3')
        """
        if format not in EXPORT_FORMATS:
            raise RegistryError(
                f"Export format {format!r} is not one of {', '.join(EXPORT_FORMATS)}."
            )
        version = self.get(ref)
        target = Path(out)
        if format == "openai":
            return self._export_openai(version, target)
        if format == "peft" and version.method == "full":
            raise RegistryError(
                f"{version.ref} is a full fine-tune, which has no adapter to export as peft. "
                "Use the merged format to get the whole model folder."
            )
        if not (version.path / _MANIFEST).is_file():
            raise RegistryError(
                f"{version.ref} is registered but its folder {version.path} is missing or has no "
                f"{_MANIFEST}: was TAILOR_HOME moved or cleaned? Point TAILOR_HOME at the "
                "folder that holds registry/."
            )
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise RegistryError(
                f"Export target {target} already exists and is not an empty folder. "
                "Pass a new path, or remove it first."
            )
        if format == "peft":
            adapter = version.adapter_path
            if adapter is None:
                raise RegistryError(
                    f"{version.ref} has no adapter_config.json in {version.path}/adapter: the "
                    "folder was changed after registering. Register the adapter again."
                )
            with _Staged(target) as staging:
                shutil.copytree(adapter, staging, dirs_exist_ok=True)
                self._write_lineage(version, staging)
        else:
            with _Staged(target) as staging:
                self._write_merged(version, staging)
                self._write_lineage(version, staging)
        return target

    @staticmethod
    def _write_lineage(version: ModelVersion, folder: Path) -> None:
        # An extra file PEFT, vLLM and transformers ignore, so the export keeps its lineage.
        (folder / "tailor_version.json").write_text(
            json.dumps(version.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    @staticmethod
    def _write_merged(version: ModelVersion, out: Path) -> None:
        from transformers import AutoTokenizer

        from tailorai.models import load_tokenizer, load_version

        try:
            # float32 whatever precision serving uses: the export is what others load.
            model, tokenizer = load_version(version, inference=False)
            if version.adapter_path is not None:
                model = model.merge_and_unload()
            tokenizer_dir = version.path / "tokenizer"
            if tokenizer_dir.is_dir():
                tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
            elif tokenizer is None:
                tokenizer = load_tokenizer(version.base_model)
        except (OSError, ValueError, KeyError, RuntimeError, ModelError) as exc:
            raise RegistryError(
                f"Could not merge {version.ref} (base model {version.base_model!r}): "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc
        if version.chat_template:
            # Generation must render prompts exactly as training did.
            tokenizer.chat_template = version.chat_template
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)

    def _export_openai(self, version: ModelVersion, out: Path) -> Path:
        dataset = self._dataset_folder(version)
        train = dataset / "train.jsonl"
        if not train.is_file():
            raise RegistryError(
                f"Dataset folder {dataset} of {version.ref} has no train.jsonl. Prepare the "
                "dataset again (tailor data prepare) into that folder."
            )
        report = dataset / "report.json"
        if version.dataset_id and report.is_file():
            # `tailor data prepare` reuses folders: make sure it still holds this version's data.
            found = json.loads(report.read_text(encoding="utf-8")).get("dataset_id")
            if found and found != version.dataset_id:
                raise RegistryError(
                    f"Dataset folder {dataset} now holds dataset {found}, not {version.dataset_id}"
                    f" that {version.ref} was trained on. Restore that dataset, or prepare it "
                    "again from the same inputs and config."
                )
        if out.is_dir():
            out = out / f"{version.name}-{version.version}.openai.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        try:
            with train.open(encoding="utf-8") as lines, os.fdopen(handle, "w") as sink:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        messages = json.loads(line)["messages"]
                        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise RegistryError(
                            f"{train} line {number} is not a training example with "
                            f"messages of role and content: {exc}"
                        ) from exc
                    sink.write(json.dumps({"messages": plain}, ensure_ascii=False) + "\n")
            os.replace(temp_name, out)
        finally:
            Path(temp_name).unlink(missing_ok=True)
        return out

    def _dataset_folder(self, version: ModelVersion) -> Path:
        path = version.lineage.get("dataset_path")
        if path:
            return Path(path)
        if version.dataset_id:
            try:
                row = self.store.get_dataset(version.dataset_id)
            except StoreError:
                row = None
            if row is not None:
                return Path(row.path)
        raise RegistryError(
            f"{version.ref} records no dataset folder (lineage['dataset_path']) and dataset "
            f"{version.dataset_id!r} is not in the store, so its training data cannot be "
            "exported. Export the dataset itself with tailor data prepare --export openai."
        )


class _VersionTaken(Exception):
    """The version number just chosen was taken by a concurrent register."""


class _Staged:
    """A hidden folder beside `target` that becomes `target` only if the block succeeds."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.staging: Path | None = None

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(
            tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=self.target.parent)
        )
        return self.staging

    def __exit__(self, exc_type: type[BaseException] | None, *_rest: object) -> None:
        assert self.staging is not None
        try:
            if exc_type is None:
                os.replace(self.staging, self.target)  # an empty target folder is replaced
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
