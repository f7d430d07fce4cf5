"""`tailor campaign` as a user runs it: render to a folder, and one clear error for mistakes."""

from __future__ import annotations

import json

from tailorai.campaigns.spec import EXAMPLES
from tests.cli.test_generation_cli import _run

EXAMPLE = str(EXAMPLES / "movie_night.yaml")


def test_render_writes_html_text_and_a_manifest(tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# one per line\nml-1\n\nnewcomer\n")
    out = tmp_path / "emails"
    done = _run(tmp_path, "campaign", "render", EXAMPLE, "--users", str(users), "--out", str(out))
    assert done.returncode == 0, done.stderr
    sends = [json.loads(line) for line in (out / "sends.jsonl").read_text().splitlines()]
    assert [s["user_id"] for s in sends] == ["ml-1", "newcomer"]
    assert all(len(s["blocks"]) == 3 for s in sends)
    html = (out / "ml-1.html").read_text()
    assert "Cinema Club" in html and "/v1/c/" in html
    assert sends[0]["blocks"][0]["title"] in (out / "ml-1.txt").read_text()
    shown = _run(tmp_path, "campaign", "show", EXAMPLE, "--json")
    rows = {r["block"]: r for r in json.loads(shown.stdout)["blocks"]}
    assert sum(r["shown"] for r in rows.values()) == 6


def test_mistakes_are_one_line_without_a_traceback(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        open(EXAMPLE).read().replace("slots: 3", "slots: 3\nsegment: [x]")  # noqa: SIM115
    )
    out = str(tmp_path / "out")
    bad_file = _run(tmp_path, "campaign", "render", str(broken), "--segment", "x", "--out", out)
    both = _run(tmp_path, "campaign", "render", EXAMPLE, "--out", out)
    no_users = _run(tmp_path, "campaign", "render", EXAMPLE, "--segment", "nobody", "--out", out)
    for done in (bad_file, both, no_users):
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("Error: ")
    assert "line 11, field `segment`: unknown field" in bad_file.stderr
    assert "exactly one of --segment NAME or --users FILE" in both.stderr
    assert "No users in segment 'nobody'" in no_users.stderr
