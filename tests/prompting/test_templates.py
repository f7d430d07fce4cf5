"""Prompt templates: the shipped file, validation errors, segment fallback, versions, filling."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tailorai.errors import ConfigError
from tailorai.prompting import DEFAULT_TEMPLATES, TemplateSet

VALID = {
    "version": 3,
    "tasks": {
        "chat_reply": {
            "request": "{message}",
            "segments": {
                "default": {"system": "You help customers of {brand}."},
                "buyers": {"system": "You help loyal customers of {brand}. Be brief."},
            },
        },
        "email": {"segments": {"default": {"system": "You write emails."}}},
    },
}


def _write(tmp_path: Path, data: object, name: str = "templates.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _with(change: dict) -> dict:
    """A deep copy of VALID with `change` applied at dotted keys (None deletes)."""
    data = yaml.safe_load(yaml.safe_dump(VALID))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


def test_shipped_templates_cover_every_task_with_a_default_segment():
    templates = TemplateSet.load()
    assert templates.source == str(DEFAULT_TEMPLATES)
    assert {"chat_reply", "email", "product_description", "recommendation"} <= set(templates.tasks)
    for task, segments in templates.tasks.items():
        assert "default" in segments, task
        for template in segments.values():
            assert template.version.startswith(f"{templates.version}+")
            # Every shipped placeholder except the request's own input has a default.
            assert template.system({})
    reply = templates.get("chat_reply", "buyers").user({"message": "Where is my order?"})
    assert reply == "Where is my order?"


def test_unknown_or_missing_segment_falls_back_to_default(tmp_path):
    templates = TemplateSet.load(_write(tmp_path, VALID))
    assert templates.get("chat_reply", "buyers").segment == "buyers"
    assert "loyal" in templates.get("chat_reply", "buyers").text
    for segment in (None, "browsers", ""):
        template = templates.get("chat_reply", segment)
        assert template.segment == "default"
        assert template.text == "You help customers of {brand}."
    assert templates.get("email", "buyers").segment == "default"


def test_unknown_task_names_the_known_ones(tmp_path):
    templates = TemplateSet.load(_write(tmp_path, VALID))
    with pytest.raises(ConfigError, match=r"Unknown task 'sms'.*\['chat_reply', 'email'\]"):
        templates.get("sms")


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"tasx": {}}, "<top level>", "unknown keys ['tasx']"),
        (
            {"tasks.chat_reply.segments.buyers.sytem": "x"},
            "tasks.chat_reply.segments.buyers",
            "sytem",
        ),
        ({"tasks.email.prompt": "x"}, "tasks.email", "unknown keys ['prompt']"),
        (
            {"tasks.chat_reply.segments.buyers.system": None},
            "tasks.chat_reply.segments.buyers",
            "has no `system`",
        ),
        (
            {"tasks.chat_reply.segments.buyers.system": "  "},
            "tasks.chat_reply.segments.buyers.system",
            "non-empty string",
        ),
        ({"tasks.email.segments.default": None}, "tasks.email.segments", "no `default` segment"),
        ({"tasks.email.segments": None}, "tasks.email.segments", "missing"),
        ({"tasks": {}}, "tasks", "empty"),
        ({"version": None}, "version", "is missing"),
        ({"version": -1}, "version", "positive int"),
        ({"version": "1 beta"}, "version", "positive int or a string"),
        ({"version": True}, "version", "positive int"),
        ({"version": 1.2}, "version", 'quote it: version: "1.2"'),
        ({"tasks.email.request": "Write {0}"}, "tasks.email.request", "plain names"),
        ({"tasks.email.request": "Write {user.name}"}, "tasks.email.request", "plain names"),
        ({"tasks.email.request": "Write {goal"}, "tasks.email.request", "not a valid template"),
        ({"defaults": ["brand"]}, "defaults", "must be a mapping"),
        ({"tasks.email.cues": "footer"}, "tasks.email.cues", "must be system or request"),
    ],
)
def test_malformed_files_name_the_file_and_the_key(tmp_path, change, key, problem):
    path = _write(tmp_path, _with(change))
    with pytest.raises(ConfigError) as error:
        TemplateSet.load(path)
    message = str(error.value)
    assert str(path) in message
    assert f"`{key}`" in message
    assert problem in message


def test_unreadable_files_say_what_is_wrong(tmp_path):
    with pytest.raises(ConfigError, match=r"Could not read the templates file .*missing\.yaml"):
        TemplateSet.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntasks: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        TemplateSet.load(bad)
    with pytest.raises(ConfigError, match="must be a mapping, got list"):
        TemplateSet.load(_write(tmp_path, ["version", 1]))


def test_editing_a_prompt_changes_its_version_and_the_set_hash_only(tmp_path):
    before = TemplateSet.load(_write(tmp_path, VALID, "a.yaml"))
    edited = TemplateSet.load(
        _write(tmp_path, _with({"tasks.chat_reply.segments.buyers.system": "Be terse."}), "b.yaml")
    )
    assert edited.version == before.version == "3"
    assert edited.get("chat_reply", "buyers").version != before.get("chat_reply", "buyers").version
    assert edited.get("chat_reply").version == before.get("chat_reply").version
    assert edited.get("email").version == before.get("email").version
    assert edited.hash != before.hash

    # Changing the request or a default the prompt uses changes what the model reads, too.
    request = TemplateSet.load(
        _write(tmp_path, _with({"tasks.chat_reply.request": "Q: {message}"}), "c.yaml")
    )
    assert request.get("chat_reply").version != before.get("chat_reply").version
    branded = TemplateSet.load(_write(tmp_path, _with({"defaults": {"brand": "Acme"}}), "d.yaml"))
    assert branded.get("chat_reply").version != before.get("chat_reply").version
    assert branded.get("email").version == before.get("email").version  # it has no {brand}

    bumped = TemplateSet.load(_write(tmp_path, _with({"version": "4"}), "e.yaml"))
    assert bumped.get("email").version.startswith("4+")
    assert bumped.get("email").version.split("+")[1] == before.get("email").version.split("+")[1]


def test_layout_and_comments_do_not_change_the_hash(tmp_path):
    plain = TemplateSet.load(_write(tmp_path, VALID))
    commented = tmp_path / "commented.yaml"
    commented.write_text(
        "# our prompts\n" + yaml.safe_dump(VALID, default_flow_style=False, indent=4, width=20),
        encoding="utf-8",
    )
    again = TemplateSet.load(commented)
    assert again.hash == plain.hash
    assert again.get("chat_reply", "buyers").version == plain.get("chat_reply", "buyers").version


def test_placeholders_fill_from_inputs_then_defaults(tmp_path):
    data = _with({"defaults": {"brand": "Acme"}})
    data["tasks"]["email"]["request"] = "Goal: {goal}. Items: {items}. Literal {{braces}}."
    templates = TemplateSet.load(_write(tmp_path, data))
    assert templates.get("chat_reply").system({}) == "You help customers of Acme."
    assert templates.get("chat_reply").system({"brand": "Zed"}) == "You help customers of Zed."
    request = templates.get("email").user({"goal": "say {hi}", "items": ["mug", "tea"]})
    assert request == "Goal: say {hi}. Items: mug, tea. Literal {braces}."
    assert set(templates.get("email").placeholders) == {"goal", "items"}


def test_a_missing_input_is_named(tmp_path):
    templates = TemplateSet.load(_write(tmp_path, VALID))
    with pytest.raises(
        ConfigError, match=r"chat_reply/buyers .*needs input 'brand'.*\['message'\]"
    ):
        templates.get("chat_reply", "buyers").system({"message": "hi"})
    with pytest.raises(ConfigError, match="needs input 'message'"):
        templates.get("chat_reply").user({"brand": "Acme"})
