"""`tailor demo` as a user runs it (without the adapter training, which other tests cover)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_prepares_data_and_segments_movielens(tmp_path):
    env = os.environ.copy()
    env["TAILOR_HOME"] = str(tmp_path / "home")
    env["TAILOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "tailorai.cli", "demo", "--no-train", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "o" / "train.jsonl").is_file()
    assert "104,519 new events stored" in done.stderr
    assert "Segmentation 1 of movielens (production" in done.stdout
    assert "chosen" in done.stdout and "Davies-Bouldin" in done.stdout
    # Three members whose data differ get the same request, each with their own cues.
    flat = " ".join(done.stdout.split())  # rich wraps lines at the terminal's width
    assert "for three members whose data differ" in flat
    assert "a member who has lapsed" in flat and "welcome them back" in flat
    assert flat.count("a recent fan of") == 2
    assert "Campaign movie_night" in done.stdout
    emails = sorted((tmp_path / "o" / "emails").glob("*.html"))
    assert len(emails) == 6  # two members of each of the three segments
    assert "Cinema Club" in emails[0].read_text()
    # The feedback loop: chats rated and corrected, one retrain, its experiment decided.
    assert re.search(r"The experiment's decision: (promoted|rolled back|inconclusive)", done.stderr)
    assert (tmp_path / "o" / "chatbot-escalations.png").read_bytes()[:4] == b"\x89PNG"
