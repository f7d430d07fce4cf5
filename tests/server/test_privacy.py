"""Forgetting a user leaves nothing of them in any table, file, dataset or adapter, and keeps
them out of later data preparation; exporting gives back everything stored about them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tailorai.audit.review import ReviewQueue
from tailorai.data import prepare
from tailorai.data.config import PrepareConfig
from tailorai.feedback import FeedbackLog
from tailorai.privacy import forgotten_hashes, is_forgotten
from tailorai.store.tables import Base
from tailorai.training.registry import Registry
from tests.feedback.test_feedback import _generation
from tests.training.test_registry import _register, build_artifacts

WHO, ANON, OTHER = "user-zq7", "anon-zq7", "user-kept"


def _rows(user: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{user}-{i}",
            "user_id": user,
            "conversation_id": f"{user}-c{i}",
            "messages": [
                {"role": "user", "content": f"Where is order {i}?"},
                {"role": "assistant", "content": f"Order {i} ships on Monday."},
            ],
            "source": "test",
        }
        for i in range(n)
    ]


def _holding(store, needles: tuple[str, ...]) -> list[str]:
    """Every table and column whose stored value mentions one of `needles`."""
    found = []
    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    text = json.dumps(value, default=str)
                    if any(n in text for n in needles):
                        found.append(f"{table.name}.{column}")
    return sorted(set(found))


def _files_holding(folder: Path, needles: tuple[str, ...]) -> list[str]:
    return [
        str(p)
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in (".jsonl", ".json", ".txt")
        and any(n in p.read_text(errors="replace") for n in needles)
    ]


@pytest.fixture
def world(live, tmp_path, tokenizer):
    """A project where WHO has events (also under an anonymous id), features, generations with
    feedback and a review item, rows in a registered dataset and a user adapter."""
    batch = [
        {"type": "page", "anonymousId": ANON},
        {"type": "identify", "anonymousId": ANON, "userId": WHO, "traits": {"plan": "pro"}},
        {"type": "track", "event": "Viewed", "userId": WHO, "properties": {"sku": "a"}},
        {"type": "track", "event": "Viewed", "userId": OTHER},
    ]
    with live.client() as http:
        answer = http.post("/v1/batch", json=batch, headers={"X-Write-Key": live.public_key})
        assert answer.json()["stored"] == 4
    _generation(live.store, "g-mine", WHO)
    _generation(live.store, "g-theirs", OTHER)
    FeedbackLog(live.store).add("shop", "g-mine", thumbs="up", correction="Better.")
    ReviewQueue(live.store, project="shop").flag("g-mine", "pii", "an address")
    artifacts = build_artifacts(tmp_path / "artifacts", tokenizer)
    dataset = artifacts["dataset"]
    (dataset / "train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in _rows(WHO, 3) + _rows(OTHER, 2))
    )
    live.store.add_dataset(
        "d-1",
        str(dataset),
        train_examples=5,
        validation_examples=0,
        config={},
        report={},
        lineage={},
        project="shop",
    )
    registry = Registry(live.store, home=tmp_path / "home", project="shop")
    adapter = _register(registry, "user-zq7", artifacts, scope=f"user:{WHO}")
    registry.promote(adapter.ref)
    return live, dataset, Path(adapter.path)


def test_forgetting_a_user_leaves_nothing_and_keeps_them_out_of_later_datasets(world, tmp_path):
    live, dataset, adapter_path = world
    assert _holding(live.store, (WHO, ANON))  # they are there to begin with
    secret = {"Authorization": f"Bearer {live.secret_key}"}
    with live.client() as http:
        exported = http.get(f"/v1/users/{WHO}/export", headers=secret).json()
        forgot = http.delete(f"/v1/users/{WHO}", headers=secret)
        again = http.delete(f"/v1/users/{WHO}", headers=secret)
        gone = http.get(f"/v1/users/{WHO}", headers=secret)
        kept = http.get(f"/v1/users/{OTHER}", headers=secret)
    assert exported["anonymous_ids"] == [ANON] and len(exported["events"]) == 3
    assert [g["id"] for g in exported["generations"]] == ["g-mine"]
    assert exported["feedback"][0]["correction"] == "Better." and exported["review_items"]
    assert exported["user_adapters"][0]["scope"] == f"user:{WHO}"

    assert forgot.status_code == 200, forgot.text
    report = forgot.json()
    assert report["removed"]["events"] == 3 and report["removed"]["generations"] == 1
    assert report["removed"]["feedback"] == 1 and report["removed"]["review_items"] == 1
    assert report["dataset_rows"] == 3 and report["adapters"] == ["user-zq7@1"]
    assert again.status_code == 200 and sum(again.json()["removed"].values()) == 0
    assert gone.status_code == 404 and kept.status_code == 200

    # No table, file, dataset or adapter still holds them; the other user is untouched.
    assert _holding(live.store, (WHO, ANON)) == []
    assert _files_holding(dataset, (WHO,)) == [] and not adapter_path.exists()
    assert OTHER in (dataset / "train.jsonl").read_text()
    assert is_forgotten(live.store, "shop", WHO) and not is_forgotten(live.store, "shop", OTHER)

    # A later import of the same conversations leaves them out (the retrain flow prepares so).
    source = tmp_path / "new.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _rows(WHO, 4) + _rows(OTHER, 4)))
    out = tmp_path / "prepared"
    prepared = prepare(
        [source],
        out,
        PrepareConfig(pii="off", validation_fraction=0.0),
        forgotten=("shop", forgotten_hashes(live.store, "shop")),
    )
    assert prepared["records_dropped"]["forgotten"] == 4
    assert _files_holding(out, (WHO,)) == [] and OTHER in (out / "train.jsonl").read_text()


def test_the_cli_forgets_and_exports(world, tmp_path):
    live, _, _ = world
    env = {
        "TAILOR_DATABASE_URL": str(live.store.engine.url),
        "TAILOR_HOME": str(tmp_path / "home"),
        "TAILOR_PROJECT": "shop",
    }

    def tailor(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [sys.executable, "-m", "tailorai.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
        )

    exported = tailor("users", "export", WHO)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["user"][0]["traits"] == {"plan": "pro"}
    forgot = tailor("users", "forget", WHO, "--json")
    assert forgot.returncode == 0, forgot.stderr
    assert json.loads(forgot.stdout)["removed"]["events"] == 3
    assert _holding(live.store, (WHO, ANON)) == []
    # Before any of their data arrives, in a project not yet created: suppressed all the same.
    early = tailor("users", "forget", "someone", "--project", "new-shop")
    assert early.returncode == 0, early.stderr
    assert is_forgotten(live.store, "new-shop", "someone")
