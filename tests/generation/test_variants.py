"""Pre-generated variants: built once per segment through the Personalizer, served per user."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tailorai.events import SqlEventStream, parse_event
from tailorai.generation import LocalBackend, Personalizer
from tailorai.generation.variants import Variants
from tailorai.segments import FeatureStore
from tailorai.store.tables import UserFeatureRow
from tests.training.test_registry import build_artifacts


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer):
    return build_artifacts(tmp_path_factory.mktemp("variant-artifacts"), tokenizer)


def test_each_segment_gets_its_own_variant(live, artifacts):
    store = live.store
    events = [
        parse_event({"type": "track", "event": "Viewed", "userId": u}, datetime.now(UTC))
        for u in ("b1", "w1")
    ]
    features = FeatureStore(store)
    features.update("shop", SqlEventStream(store).append("shop", events).new)
    with store.session() as s:
        for user, segment in (("b1", "buyers"), ("w1", "browsers")):
            s.execute(
                update(UserFeatureRow)
                .where(UserFeatureRow.user_key == user)
                .values(segment=segment)
            )
    backend = LocalBackend(str(artifacts["base"]))
    personalizer = Personalizer(
        store=store, backend=backend, project="shop", max_new_tokens=6, scrub_pii=False
    )
    made = Variants(store, features).build(
        personalizer, "product_description", {"product": "boots"}, segments=["buyers", "browsers"]
    )
    backend.close()
    assert set(made) == {"buyers", "browsers", "default"}
    assert "still exploring" in made["browsers"].prompt[0]["content"]  # its own template
    served = live.app.state.services.variants
    public = {"X-Write-Key": live.public_key}
    with live.client() as http:
        buyer = http.get("/v1/variants/product_description?user_id=b1", headers=public).json()
        browser = http.get("/v1/variants/product_description?user_id=w1", headers=public).json()
        stranger = http.get("/v1/variants/product_description?user_id=zz", headers=public).json()
        missing = http.get("/v1/variants/haiku", headers=public)
    assert buyer["segment"] == "buyers" and buyer["output"] == made["buyers"].output
    assert buyer["generation_id"] == made["buyers"].id
    assert browser["segment"] == "browsers" and stranger["segment"] == "default"
    assert missing.status_code == 404 and "product_description" in missing.json()["detail"]
    assert served.get("shop", "product_description", "b1")["segment"] == "buyers"
