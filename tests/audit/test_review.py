"""The human review queue: flagged generations, decisions by named reviewers, stale edits
refused, edits as training pairs, and projects kept apart, through the real server."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from tailorai.audit.review import ReviewQueue, StaleReview, UnknownReviewItem
from tailorai.feedback import FeedbackLog
from tailorai.feedback.pairs import preference_pairs
from tailorai.projects import create_key, ensure_project
from tailorai.server import create_app
from tailorai.store import Store
from tailorai.store.tables import GenerationRow
from tests.feedback.test_feedback import _generation
from tests.server.conftest import serve, sign_in


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'review.db'}")
    for project in ("shop", "other"):
        ensure_project(store, project)
    for gid, user in (("g1", "u1"), ("g2", "u2"), ("g3", "u3")):
        _generation(store, gid, user)
    yield store
    store.close()


def test_flags_merge_decisions_are_kept_and_edits_become_training_pairs(store):
    queue = ReviewQueue(store, project="shop")
    first = queue.flag("g1", "pii", "an email address")
    assert queue.flag("g1", "offensive", "p = 0.93") == first  # one item, two reasons
    FeedbackLog(store).add("shop", "g2", thumbs="down")
    assert queue.flag_from_feedback() == 1
    pending = queue.items()
    assert [i["generation_id"] for i in pending] == ["g1", "g2"]
    assert [r["source"] for r in pending[0]["reasons"]] == ["pii", "offensive"]
    assert pending[0]["revision"] == 2 and pending[0]["output"] == "output of g1"

    edited = queue.decide(first, "edit", reviewer="alice", revision=2, text="A clean reply.")
    assert edited["status"] == "edited" and edited["reviewer"] == "alice"
    assert edited["decided_at"] and edited["revision"] == 3
    with pytest.raises(StaleReview, match=r"revision 3, not 2.*by alice"):
        queue.decide(first, "approve", reviewer="bob", revision=2)
    with pytest.raises(UnknownReviewItem):
        queue.decide(999, "approve", reviewer="bob", revision=1)
    assert ReviewQueue(store, project="other").items() == []  # another project's queue
    with pytest.raises(UnknownReviewItem):
        ReviewQueue(store, project="other").get(first)
    with store.engine.begin() as connection:  # what the model read, for the pair's prompt
        connection.execute(
            update(GenerationRow)
            .where(GenerationRow.id == "g1")
            .values(prompt=[{"role": "user", "content": "Where is my order?"}])
        )
    pairs = preference_pairs(store, "shop")
    assert {"chosen": "A clean reply.", "rejected": "output of g1"}.items() <= pairs[0].items()


def test_reviewers_use_the_api_with_their_own_keys(store, tmp_path):
    alice = create_key(store, "shop", "secret", name="alice")
    outsider = create_key(store, "other", "secret", name="eve")
    public = create_key(store, "shop", "public")
    app = create_app(store, rate_limit=0, home=tmp_path)
    for url in serve(app):
        with httpx.Client(base_url=url, timeout=30) as http:
            as_alice = {"Authorization": f"Bearer {alice}"}
            flagged = http.post(
                "/v1/review",
                json={"generation_id": "g3", "source": "bias_probe", "detail": "pair 4"},
                headers=as_alice,
            ).json()
            listed = http.get("/v1/review", headers=as_alice).json()["items"]
            hidden = http.get(
                f"/v1/review/{flagged['id']}", headers={"Authorization": f"Bearer {outsider}"}
            )
            not_public = http.get("/v1/review", headers={"Authorization": f"Bearer {public}"})
            decided = http.post(
                f"/v1/review/{flagged['id']}",
                json={"action": "reject", "revision": flagged["revision"], "note": "off-brand"},
                headers=as_alice,
            )
            stale = http.post(
                f"/v1/review/{flagged['id']}",
                json={"action": "approve", "revision": flagged["revision"]},
                headers=as_alice,
            )
            unknown = http.post(
                "/v1/review/999", json={"action": "approve", "revision": 1}, headers=as_alice
            )
            no_such = http.post(
                "/v1/review", json={"generation_id": "nope", "source": "pii"}, headers=as_alice
            )
            sign_in(http, alice)
            page = http.get("/review")
    assert [i["id"] for i in listed] == [flagged["id"]]
    assert hidden.status_code == 404 and not_public.status_code == 403
    assert decided.status_code == 200 and decided.json()["reviewer"] == "alice"
    assert decided.json()["status"] == "rejected" and decided.json()["note"] == "off-brand"
    assert stale.status_code == 409 and unknown.status_code == 404
    assert no_such.status_code == 404
    assert page.status_code == 200 and "Signed in as <strong>alice</strong>" in page.text


def test_served_outputs_with_abuse_or_personal_data_and_active_learning_picks_are_flagged(
    store, tmp_path
):
    import json
    import os
    import subprocess
    import sys

    from tailorai.feedback.select import Candidate
    from tailorai.generation.generation_log import GenerationLog
    from tailorai.records import Generation

    outputs = {
        "rude": "You are a stupid idiot, shut up.",
        "leak": "Your agent is reachable at jane.doe@example.com or 415-555-0132.",
        "echo": "Thanks, we will write to you at bob@example.org.",  # the user gave it
        "fine": "Thanks for your order, it ships tomorrow.",
    }
    for gid, text in outputs.items():
        GenerationLog(store).add(
            Generation(
                id=gid,
                project_id="shop",
                task="chat_reply",
                rung="zero_shot",
                output=text,
                backend="LocalBackend",
                inputs={"message": "My address is bob@example.org"} if gid == "echo" else {},
            )
        )
    queue = ReviewQueue(store, project="shop")
    counts = queue.flag_outputs()
    assert counts["checked"] == 7 and counts["offensive"] == 1 and counts["pii"] == 1
    reasons = {i["generation_id"]: [r["source"] for r in i["reasons"]] for i in queue.items()}
    assert reasons == {"rude": ["offensive"], "leak": ["pii"]}
    assert "EMAIL_ADDRESS" in queue.items()[1]["reasons"][0]["detail"]
    assert queue.flag_outputs() == counts  # again: the same items, no duplicates
    assert len(queue.items()) == 2

    picked = [Candidate("fine", None, None, "chat_reply", 0.9, ["least sure reply"])]
    assert queue.flag_selected(picked) == 1
    assert [r["source"] for r in queue.items()[-1]["reasons"]] == ["active_learning"]

    # The same sweep from the command line, on a database of its own.
    env = {**os.environ, "TAILOR_DATABASE_URL": str(store.url), "TAILOR_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tailorai.cli", "audit", "outputs", "--days", "0", "--project",
         "shop", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["offensive"] == 1
