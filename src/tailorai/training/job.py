"""`train()`: fine-tune for a scope and register the result, the job behind `tailor train`.

A scope of `segment:all` trains one adapter per segment found in the data. Segment and user
adapters start from the production global adapter when there is one (the non-personalized
baseline they must beat), so personalization adds to what all users share rather than
relearning it. Only the main process registers versions when several run under torchrun.

A run whose validation loss never went below its starting point is not registered: it would be
a version worse than the model it started from (the base, or the global adapter). Its artifact
stays in the run folder; `NotImprovedWarning` says so, and when no scope improved at all the
job fails with the figures and what to change.

`--method dpo` runs `dpo()` on the folder's preference pairs instead of `finetune()` on its
examples; scopes, starting points and the rule above are the same (its loss is the DPO loss).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

from tailorai.errors import ConfigError, NotImprovedError
from tailorai.training.config import TrainConfig, parse_scope
from tailorai.training.dataset import load_dataset
from tailorai.training.finetune import TrainResult, finetune
from tailorai.training.registry import ModelVersion, Registry

__all__ = ["NotImprovedWarning", "train", "version_name"]


class NotImprovedWarning(UserWarning):
    """A scope's run ended no better than it started, so it was not registered."""


def _not_improved(result: TrainResult) -> str:
    m = result.metrics
    if result.config.method == "dpo":
        what = "DPO loss on held-out preference pairs"
        change = "Change --learning-rate or --beta, or collect more preference pairs"
    else:
        what = "validation loss"
        change = (
            "Lower --learning-rate, add examples, or use few-shot prompting for this scope "
            "(see `tailor plan`)"
        )
    return (
        f"{result.config.scope}: not registered, {what} never went below its starting point "
        f"({m['initial_val_loss']:.3f} before training, best {m['best_val_loss']:.3f} after). "
        f"{change}. The run is kept in {result.run_dir}."
    )


def version_name(scope: str) -> str:
    """The default registry name of a scope: `global`, `segment-buyers`, `user-42`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", scope.replace(":", "-"))[:100]


def _init_from(config: TrainConfig, registry: Registry) -> tuple[str | None, str | None]:
    """The adapter folder a run starts from, and what to call it in the lineage (a ref)."""
    if config.init_from:
        if "@" in config.init_from or not config.init_from.startswith(("/", ".")):
            version = registry.get(config.init_from)
            if version.adapter_path is None:
                raise ConfigError(
                    f"--init-from {config.init_from} is a full model, not an adapter; start an "
                    "adapter from another adapter version."
                )
            return str(version.adapter_path), version.ref
        return config.init_from, config.init_from
    kind, _ = parse_scope(config.scope)
    if kind == "global" or not config.is_adapter:
        return None, None
    baseline = registry.production("global")
    if baseline is not None and baseline.adapter_path is not None:
        return str(baseline.adapter_path), baseline.ref
    return None, None


def _segments(config: TrainConfig) -> list[str]:
    if config.method == "dpo":
        from tailorai.training.preferences import load_preferences

        return load_preferences(config.data).groups()
    return load_dataset(config.data).groups(config.group_by)


def _register(result: TrainResult, registry: Registry, name: str) -> ModelVersion:
    return registry.register(
        name,
        result.artifact_dir,
        scope=result.config.scope,
        method=result.config.method,
        base_model=result.base_model,
        dataset_id=result.dataset_id or None,
        config=result.config.to_dict(),
        metrics=result.metrics,
        chat_template=result.chat_template,
        lineage=result.lineage,
    )


def train(
    config: TrainConfig, *, registry: Registry | None = None, progress: bool = True
) -> list[ModelVersion]:
    """Train and register one version per scope (several for `segment:all`).

    >>> [version] = train(TrainConfig(data="dataset", scope="global"))
    >>> version.ref
    'global@1'
    """
    import torch.distributed as dist

    registry = registry or Registry()
    scopes = [config.scope]
    if config.scope == "segment:all":
        groups = _segments(config)
        if not groups and config.method == "dpo":
            raise ConfigError(
                f"--scope segment:all found no segments: no preference pair in {config.data} "
                "has a 'segment'. Train --scope global, or export pairs with their segment."
            )
        if not groups:
            raise ConfigError(
                f"--scope segment:all found no segments: no training example of {config.data} "
                f"has meta.{config.group_by}. Pass --group-by with the field that names segments."
            )
        scopes = [f"segment:{g}" for g in groups]
    run = finetune
    if config.method == "dpo":
        from tailorai.training.dpo import dpo as run
    versions, rejected = [], []
    main_process = True
    for scope in scopes:
        scoped = replace(config, scope=scope)
        scoped.init_from, parent = _init_from(scoped, registry)
        result = run(scoped, progress=progress, parent=parent, project=registry.project)
        main_process = not dist.is_available() or not dist.is_initialized() or dist.get_rank() == 0
        if not main_process:
            continue
        if result.metrics.get("improved") is False:
            rejected.append(_not_improved(result))
            warnings.warn(rejected[-1], NotImprovedWarning, stacklevel=2)
            continue
        name = config.name if config.name and len(scopes) == 1 else version_name(scope)
        versions.append(_register(result, registry, name))
    if main_process and rejected and not versions:
        raise NotImprovedError("No version registered. " + " ".join(rejected))
    return versions
