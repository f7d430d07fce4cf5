"""The model registry on SQLite and PostgreSQL, with tiny real models and PEFT adapters."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import tailorai.store
from tailorai.errors import StoreError, TailorError
from tailorai.store import Base, ModelVersionRow, Store
from tailorai.training.registry import ModelVersion, Registry, RegistryError
from tests.training.conftest import tiny_llama

INPUT_IDS = torch.tensor([[1, 15, 42, 7, 300, 11]])
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
TRAIN_ROWS = [
    {
        "id": f"e{i}",
        "user_id": f"u{i % 2}",
        "messages": [
            {"role": "user", "content": f"Where is order {i}?"},
            {"role": "assistant", "content": f"Order {i} ships today."},
        ],
        "source": "chats.jsonl",
        "meta": {"conversation_id": f"c{i}"},
    }
    for i in range(3)
]


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def registry(store_url, tmp_path):
    store = Store(store_url)
    yield Registry(store, home=tmp_path / "home")
    store.close()


def build_artifacts(root: Path, tokenizer: Any) -> dict[str, Path]:
    """A tiny Llama base, LoRA and DoRA runs on it, a full fine-tune run, and a dataset folder."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    paths = {"base": root / "base"}
    tiny_llama().save_pretrained(paths["base"])
    tokenizer.save_pretrained(paths["base"])
    for method in ("lora", "dora"):
        run = paths[method] = root / f"run-{method}"
        lora = LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj"],
            init_lora_weights=False,  # random B, so the adapter changes the output
            use_dora=method == "dora",
        )
        model = get_peft_model(LlamaForCausalLM.from_pretrained(paths["base"]), lora)
        model.save_pretrained(run / "adapter")
        tokenizer.save_pretrained(run / "tokenizer")
        (run / "metrics.json").write_text(json.dumps({"eval_loss": 2.5}))
    full = LlamaForCausalLM.from_pretrained(paths["base"])
    with torch.no_grad():
        full.model.layers[0].mlp.up_proj.weight.add_(0.1)
    paths["full"] = root / "run-full"
    full.save_pretrained(paths["full"] / "model")
    tokenizer.save_pretrained(paths["full"] / "tokenizer")
    dataset = paths["dataset"] = root / "dataset"
    dataset.mkdir()
    (dataset / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRAIN_ROWS))
    (dataset / "report.json").write_text(json.dumps({"dataset_id": "d5e7"}))
    return paths


@pytest.fixture
def local_registry(tmp_path):
    """A registry on SQLite alone, for tests whose subject is files, not the database."""
    store = Store(f"sqlite:///{tmp_path / 'tailor.db'}")
    yield Registry(store, home=tmp_path / "home")
    store.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer) -> dict[str, Path]:
    return build_artifacts(tmp_path_factory.mktemp("artifacts"), tokenizer)


def _register(registry: Registry, name: str, artifacts: dict[str, Path], **kw: Any) -> ModelVersion:
    method = kw.pop("method", "lora")
    return registry.register(
        name,
        artifacts.get(method, artifacts["lora"]),
        scope=kw.pop("scope", "global"),
        method=method,
        base_model=kw.pop("base_model", str(artifacts["base"])),
        dataset_id=kw.pop("dataset_id", "d5e7"),
        config=kw.pop("config", {"lora_r": 4}),
        metrics=kw.pop("metrics", {"eval_loss": 2.5}),
        chat_template=kw.pop("chat_template", TEMPLATE),
        lineage=kw.pop("lineage", {"dataset_path": str(artifacts["dataset"])}),
    )


def _stages(registry: Registry) -> dict[str, str]:
    return {v.ref: v.stage for v in registry.list()}


def _logits(model: Any) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(INPUT_IDS).logits


# -- the table and its migration -----------------------------------------------------------------


def test_migration_matches_the_tables_and_downgrades(store_url):
    store = Store(store_url)
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    config = Config()
    config.set_main_option(
        "script_location", str(Path(tailorai.store.__file__).parent / "migrations")
    )
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert "model_versions" not in inspect(store.engine).get_table_names()
    store.migrate()
    assert {"model_versions", "model_promotions"} <= set(inspect(store.engine).get_table_names())
    store.close()


def test_one_production_per_scope_is_enforced_by_the_database(registry, artifacts):
    _register(registry, "a", artifacts)
    _register(registry, "a", artifacts)
    with pytest.raises(StoreError), registry.store.session() as s:
        s.execute(update(ModelVersionRow).values(stage="production"))


# -- registering ---------------------------------------------------------------------------------


def test_versions_are_numbered_per_name_and_start_as_candidates(registry, artifacts):
    refs = [_register(registry, n, artifacts).ref for n in ("support", "support", "other")]
    assert refs == ["support@1", "support@2", "other@1"]
    assert _stages(registry) == dict.fromkeys(("other@1", "support@1", "support@2"), "candidate")
    folder = registry.root / "support"
    assert sorted(p.name for p in folder.iterdir()) == ["1", "2"]  # no staging debris
    for number in ("1", "2"):
        assert (folder / number / "version.json").is_file()
        assert (folder / number / "adapter" / "adapter_config.json").is_file()
        assert (folder / number / "metrics.json").is_file()


def test_lineage_round_trips_through_store_and_manifest(store_url, registry, artifacts):
    registry.store.add_dataset(
        "d5e7",
        str(artifacts["dataset"]),
        train_examples=3,
        validation_examples=0,
        config={},
        report={},
        lineage={},
    )
    made = _register(
        registry,
        "support",
        artifacts,
        scope="segment:vip",
        config={"lora_r": 4, "output_dir": Path("/runs/7"), "targets": ("q", "v")},
        metrics={"eval_loss": 1.25, "per_user": {"u1": 0.5}},
        lineage={"parent": "global@2"},
    )
    fresh = Store(store_url)  # a new connection reads what was committed, not a cached object
    got = Registry(fresh, home=registry.home).get("support@1")
    fresh.close()
    assert got == made
    assert got.scope == "segment:vip" and got.method == "lora" and got.stage == "candidate"
    assert got.base_model == str(artifacts["base"]) and got.dataset_id == "d5e7"
    assert got.config == {"lora_r": 4, "output_dir": "/runs/7", "targets": ["q", "v"]}
    assert got.metrics == {"eval_loss": 1.25, "per_user": {"u1": 0.5}}
    assert got.lineage["parent"] == "global@2"
    assert got.lineage["dataset_path"] == str(artifacts["dataset"])  # found from the dataset id
    assert got.lineage["code_version"]["tailorai"]
    assert got.chat_template == TEMPLATE
    assert got.created_at.tzinfo is not None
    assert got.path == registry.root / "support" / "1"
    manifest = json.loads((got.path / "version.json").read_text())
    # Stage and audit change after registration; the manifest holds what never changes.
    assert manifest == {k: v for k, v in got.as_dict().items() if k not in ("stage", "audit")}


def _fail_when_a_version_commits(monkeypatch: pytest.MonkeyPatch, failure: Any) -> None:
    """Make the commit that would create a version fail, after its folder was put in place."""
    real_commit = Session.commit

    def commit(self: Session) -> None:
        if any(isinstance(o, ModelVersionRow) for o in self.identity_map.values()):
            failure()
        real_commit(self)

    monkeypatch.setattr(Session, "commit", commit)


def test_a_failed_commit_leaves_no_version_and_the_next_register_works(
    registry, artifacts, monkeypatch
):
    _register(registry, "support", artifacts)

    def disk_full() -> None:
        raise OperationalError("COMMIT", {}, OSError("database or disk is full"))

    with monkeypatch.context() as patch:
        _fail_when_a_version_commits(patch, disk_full)
        with pytest.raises(StoreError, match="disk is full"):
            _register(registry, "support", artifacts)
    assert [v.ref for v in registry.list()] == ["support@1"]
    assert sorted(p.name for p in (registry.root / "support").iterdir()) == ["1"]
    with pytest.raises(RegistryError, match="support@2 does not exist"):
        registry.get("support@2")
    assert _register(registry, "support", artifacts, metrics={"eval_loss": 1.0}).ref == "support@2"


CRASH = """
import os, sys
from pathlib import Path
from sqlalchemy.orm import Session
from tailorai.store import ModelVersionRow, Store
from tailorai.training.registry import Registry

real_commit = Session.commit

def commit(self):
    if any(isinstance(o, ModelVersionRow) for o in self.identity_map.values()):
        os._exit(17)  # die after the folder is in place, before the row commits
    real_commit(self)

Session.commit = commit
url, home, artifact = sys.argv[1:]
Registry(Store(url), home=Path(home)).register(
    "support", artifact, scope="global", method="lora", base_model="base"
)
"""


def test_a_crash_between_folder_and_row_leaves_no_visible_version(registry, artifacts, store_url):
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH, store_url, str(registry.home), str(artifacts["lora"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 17, crashed.stderr
    leftover = registry.root / "support" / "1"
    assert (leftover / "version.json").is_file()  # the folder made it, the row did not
    assert registry.list() == []
    with pytest.raises(RegistryError, match="No model named 'support'"):
        registry.get("support")
    made = _register(registry, "support", artifacts, metrics={"eval_loss": 0.75})
    assert made.ref == "support@1"
    assert json.loads((leftover / "version.json").read_text())["metrics"] == {"eval_loss": 0.75}
    # The crashed attempt's folder is kept out of sight, not mistaken for a version.
    names = sorted(p.name.split("-")[0] for p in leftover.parent.iterdir())
    assert names == [".orphaned", "1"]
    assert [v.ref for v in registry.list()] == ["support@1"]


def test_concurrent_registers_take_distinct_numbers(registry, artifacts):
    with ThreadPoolExecutor(3) as pool:
        made = list(pool.map(lambda i: _register(registry, "support", artifacts), range(6)))
    assert sorted(v.version for v in made) == [1, 2, 3, 4, 5, 6]
    for version in made:
        manifest = json.loads((version.path / "version.json").read_text())
        assert (
            manifest["ref"] == version.ref
            and manifest["created_at"] == version.as_dict()["created_at"]
        )


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("no/slash", {}, "Model name 'no/slash' is not allowed"),
        ("x@1", {}, "is not allowed"),
        ("support", {"scope": "segment"}, "Scope 'segment' is not one of global"),
        ("support", {"scope": "team:1"}, "not one of global, segment:NAME or user:ID"),
        ("support", {"method": "prefix"}, "Method 'prefix' is not one of full, lora, dora"),
        ("support", {"config": {"bad": object()}}, "`config` must hold plain JSON values"),
        ("taken", {"scope": "user:42"}, "already has versions in scope 'global'"),
    ],
)
def test_register_refuses_bad_input_with_a_clear_error(registry, artifacts, name, kwargs, message):
    _register(registry, "taken", artifacts)
    with pytest.raises(RegistryError, match=message):
        _register(registry, name, artifacts, **kwargs)
    assert [v.ref for v in registry.list()] == ["taken@1"]


def test_register_checks_the_artifact_folder(registry, artifacts, tmp_path):
    with pytest.raises(RegistryError, match="does not exist"):
        registry.register("a", tmp_path / "nope", scope="global", method="lora", base_model="b")
    with pytest.raises(RegistryError, match=r"no PEFT adapter \(no adapter/adapter_config.json\)"):
        registry.register("a", artifacts["full"], scope="global", method="lora", base_model="b")
    with pytest.raises(RegistryError, match=r"no model \(no model/config.json\)"):
        registry.register("a", artifacts["lora"], scope="global", method="full", base_model="b")


# -- reading -------------------------------------------------------------------------------------


def test_get_by_name_is_production_else_latest(registry, artifacts):
    for _ in range(3):
        _register(registry, "support", artifacts)
    assert registry.get("support").ref == "support@3"
    registry.promote("support@2")
    assert registry.get("support").ref == "support@2"
    assert registry.get("support@3").stage == "candidate"
    assert registry.get(" support@1 ").version == 1


def test_unknown_refs_say_what_exists(registry, artifacts):
    with pytest.raises(RegistryError, match="The registry is empty"):
        registry.get("support")
    _register(registry, "support", artifacts)
    _register(registry, "support", artifacts)
    _register(registry, "vip", artifacts, scope="segment:vip")
    with pytest.raises(RegistryError) as error:
        registry.get("nope")
    assert str(error.value) == (
        "No model named 'nope'. Registered: support (2 versions), vip (1 version)."
    )
    with pytest.raises(RegistryError, match=r"support@9 does not exist\. Versions of 'support': "):
        registry.get("support@9")
    with pytest.raises(RegistryError, match=r"is not a model reference\. Use NAME or NAME@VERSION"):
        registry.get("support@latest")
    assert isinstance(error.value, TailorError)


def test_list_filters_by_name_scope_and_stage(registry, artifacts):
    _register(registry, "support", artifacts)
    _register(registry, "support", artifacts)
    _register(registry, "vip", artifacts, scope="segment:vip")
    registry.promote("vip@1")
    assert [v.ref for v in registry.list()] == ["support@1", "support@2", "vip@1"]
    assert [v.ref for v in registry.list(name="support")] == ["support@1", "support@2"]
    assert [v.ref for v in registry.list(scope="segment:vip")] == ["vip@1"]
    assert [v.ref for v in registry.list(stage="production")] == ["vip@1"]
    with pytest.raises(RegistryError, match="Stage 'live' is not one of candidate"):
        registry.list(stage="live")


# -- promote and roll back -----------------------------------------------------------------------


def test_promote_archives_the_previous_production_of_the_same_scope(registry, artifacts):
    _register(registry, "support", artifacts)
    _register(registry, "support", artifacts)
    _register(registry, "support-new", artifacts)  # another name, the same scope
    _register(registry, "vip", artifacts, scope="segment:vip")
    assert registry.production("global") is None
    registry.promote("vip@1")
    assert registry.promote("support@1").stage == "production"
    assert registry.production("global").ref == "support@1"
    registry.promote("support-new@1")
    assert _stages(registry) == {
        "support@1": "archived",
        "support@2": "candidate",
        "support-new@1": "production",
        "vip@1": "production",  # another scope is untouched
    }
    assert registry.promote("support-new").ref == "support-new@1"  # again: nothing changes
    assert len(registry.history("global")) == 2


def test_rollback_restores_exactly_and_refuses_when_impossible(registry, artifacts):
    for _ in range(3):
        _register(registry, "support", artifacts)
    for ref in ("support@1", "support@2", "support@3"):
        registry.promote(ref)
    assert registry.rollback("global").ref == "support@2"
    assert _stages(registry) == {
        "support@1": "archived",
        "support@2": "production",
        "support@3": "archived",
    }
    assert registry.rollback(name="support").ref == "support@1"  # by name: the name's scope
    with pytest.raises(RegistryError, match="support@1 was the first version promoted"):
        registry.rollback("global")
    assert registry.production("global").ref == "support@1"  # the refusal changed nothing
    registry.promote("support@3")
    assert registry.rollback("global").ref == "support@1"  # undoes the newest promotion only
    history = registry.history("global")
    assert [(h["promoted"], h["replaced"]) for h in history] == [
        ("support@1", None),
        ("support@2", "support@1"),
        ("support@3", "support@2"),
        ("support@3", "support@1"),
    ]
    assert [h["rolled_back_at"] is not None for h in history] == [False, True, True, True]


def test_rollback_without_a_production_version_is_an_error(registry, artifacts):
    _register(registry, "support", artifacts)
    with pytest.raises(RegistryError, match="Scope 'global' has no version in production"):
        registry.rollback("global")
    with pytest.raises(RegistryError, match="Pass either a scope"):
        registry.rollback()
    assert _stages(registry) == {"support@1": "candidate"}


# -- export --------------------------------------------------------------------------------------


def test_peft_export_loads_unchanged_with_peft(local_registry, artifacts, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    version = _register(local_registry, "support", artifacts)
    out = local_registry.export("support@1", tmp_path / "exported", "peft")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "tailor_version.json").read_text())["ref"] == version.ref

    def adapted(adapter: Path) -> torch.Tensor:
        base = AutoModelForCausalLM.from_pretrained(artifacts["base"])
        return _logits(PeftModel.from_pretrained(base, adapter))

    torch.testing.assert_close(adapted(out), adapted(artifacts["lora"] / "adapter"), atol=0, rtol=0)


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_merged_export_gives_the_logits_of_base_plus_adapter(
    local_registry, artifacts, tmp_path, method
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _register(local_registry, "support", artifacts, method=method)
    out = local_registry.export("support", tmp_path / "merged", "merged")
    base = AutoModelForCausalLM.from_pretrained(artifacts["base"])
    expected = _logits(PeftModel.from_pretrained(base, artifacts[method] / "adapter"))
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    torch.testing.assert_close(_logits(merged), expected, atol=1e-5, rtol=0)
    plain = _logits(AutoModelForCausalLM.from_pretrained(artifacts["base"]))
    assert (plain - expected).abs().max() > 1e-2  # the adapter did change the output
    assert AutoTokenizer.from_pretrained(out).chat_template == TEMPLATE


def test_a_full_version_exports_merged_but_not_peft(local_registry, artifacts, tmp_path):
    from transformers import AutoModelForCausalLM

    _register(local_registry, "full", artifacts, method="full")
    with pytest.raises(RegistryError, match=r"full fine-tune.*Use the merged format"):
        local_registry.export("full@1", tmp_path / "p", "peft")
    assert not (tmp_path / "p").exists()
    out = local_registry.export("full@1", tmp_path / "m", "merged")
    expected = _logits(AutoModelForCausalLM.from_pretrained(artifacts["full"] / "model"))
    torch.testing.assert_close(_logits(AutoModelForCausalLM.from_pretrained(out)), expected)


def test_openai_export_writes_the_training_messages(local_registry, artifacts, tmp_path):
    _register(local_registry, "support", artifacts)
    out = local_registry.export("support@1", tmp_path / "train.openai.jsonl", "openai")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [{"messages": row["messages"]} for row in TRAIN_ROWS]
    folder = tmp_path / "exports"
    folder.mkdir()
    assert local_registry.export("support", folder, "openai") == folder / "support-1.openai.jsonl"


def test_openai_export_refuses_data_that_changed_or_is_unknown(local_registry, artifacts, tmp_path):
    moved = tmp_path / "dataset"
    moved.mkdir()
    (moved / "train.jsonl").write_text((artifacts["dataset"] / "train.jsonl").read_text())
    (moved / "report.json").write_text(json.dumps({"dataset_id": "other"}))
    _register(local_registry, "support", artifacts, lineage={"dataset_path": str(moved)})
    with pytest.raises(RegistryError, match="now holds dataset other, not d5e7"):
        local_registry.export("support@1", tmp_path / "o.jsonl", "openai")
    _register(local_registry, "support", artifacts, dataset_id="unknown", lineage={})
    with pytest.raises(
        RegistryError, match=r"records no dataset folder \(lineage\['dataset_path'\]"
    ):
        local_registry.export("support@2", tmp_path / "o.jsonl", "openai")
    assert not (tmp_path / "o.jsonl").exists()


def test_export_refuses_a_used_target_and_unknown_formats(local_registry, artifacts, tmp_path):
    _register(local_registry, "support", artifacts)
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(RegistryError, match="already exists and is not an empty folder"):
        local_registry.export("support@1", used, "peft")
    assert [p.name for p in used.iterdir()] == ["keep.txt"]
    with pytest.raises(RegistryError, match="Export format 'gguf' is not one of peft, merged"):
        local_registry.export("support@1", tmp_path / "x", "gguf")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (local_registry.export("support@1", empty, "peft") / "adapter_config.json").is_file()


def test_projects_never_see_each_others_versions(tmp_path, artifacts):
    from tailorai.projects import ensure_project

    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    ensure_project(store, "shop")
    mine = Registry(store, home=tmp_path, project="shop")
    theirs = Registry(store, home=tmp_path)  # the default project
    ours = _register(mine, "support", artifacts)
    mine.promote(ours.ref)
    assert ours.ref == "support@1" and ours.path.is_relative_to(tmp_path / "registry" / "shop")
    assert theirs.list() == [] and theirs.production("global") is None
    with pytest.raises(RegistryError, match="No model named 'support'"):
        theirs.get("support")
    # The same name starts at 1 in another project, and each has its own production version.
    other = _register(theirs, "support", artifacts)
    theirs.promote(other.ref)
    assert other.ref == "support@1"
    assert mine.production("global").path != theirs.production("global").path
    assert [v.ref for v in mine.list()] == ["support@1"]
    assert [h["promoted"] for h in theirs.history("global")] == ["support@1"]
    store.close()
