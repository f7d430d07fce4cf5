"""Campaign files: the shipped example loads, and every mistake names its line and field."""

from __future__ import annotations

import math

import pytest

from tailorai.campaigns import Campaign, load_campaign
from tailorai.campaigns.spec import EXAMPLES, campaign_files, find_campaign
from tailorai.errors import ConfigError

GOOD = """\
name: weekly
subject: "News from {brand}"
policy: epsilon_greedy
epsilon: 0.2
slots: 2
defaults:
  brand: Shop
blocks:
  recommendations:
    title: Picked for you
    prompt: Recommend {top_category} items.
    link: https://shop.example/recs
    categories: [shoes]
  discount:
    title: A discount
    prompt: Offer 10% off to a {segment} reader.
    link: https://shop.example/offer
    eligible:
      segments: [browsers]
      features:
        purchases: {max: 0}
        engagement: {min: 10, max: 80}
"""


def test_the_shipped_example_and_a_full_file_load():
    example = load_campaign(EXAMPLES / "movie_night.yaml")
    assert example.name == "movie_night" and len(example.blocks) == 11
    campaign = Campaign.from_yaml(GOOD, source="weekly.yaml")
    assert (campaign.policy, campaign.epsilon, campaign.slots) == ("epsilon_greedy", 0.2, 2)
    discount = campaign.block("discount")
    assert discount.eligible.segments == ("browsers",)
    assert discount.eligible.features == {"purchases": (-math.inf, 0.0), "engagement": (10, 80)}
    assert campaign.block("recommendations").categories == ("shoes",)


def test_eligibility_rules_hold_all_together():
    rules = Campaign.from_yaml(GOOD).block("discount").eligible
    fits = {"purchases": 0, "engagement": 50, "top_categories": []}
    assert rules.allows("browsers", fits)
    assert not rules.allows("buyers", fits)  # wrong segment
    assert not rules.allows(None, fits)  # no segment yet
    assert not rules.allows("browsers", {**fits, "purchases": 1})
    assert not rules.allows("browsers", {**fits, "engagement": 90})


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "says"),
    [
        ("policy: epsilon_greedy", "policy: greedy", 3, "policy", "thompson"),
        ("epsilon: 0.2", "epsilon: 2", 4, "epsilon", "from 0.0 to 1.0"),
        ("slots: 2", "slots: two", 5, "slots", "whole number"),
        (
            "    link: https://shop.example/recs",
            "    link: shop",
            12,
            "blocks.recommendations.link",
            "http(s) URL",
        ),
        (
            "    categories: [shoes]",
            "    categorys: [shoes]",
            13,
            "blocks.recommendations.categorys",
            "unknown field",
        ),
        (
            "{top_category} items",
            "{favourite} items",
            11,
            "blocks.recommendations.prompt",
            "{favourite}",
        ),
        (
            "        purchases: {max: 0}",
            "        purchased: {max: 0}",
            21,
            "blocks.discount.eligible.features.purchased",
            "unknown feature",
        ),
        (
            "{min: 10, max: 80}",
            "{min: 80, max: 10}",
            22,
            "blocks.discount.eligible.features.engagement",
            "above max",
        ),
        (
            "      segments: [browsers]",
            "      segments: {a: 1}",
            19,
            "blocks.discount.eligible.segments",
            "list of names",
        ),
    ],
)
def test_a_mistake_names_the_file_line_and_field(old, new, line, field, says):
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        Campaign.from_yaml(GOOD.replace(old, new), source="weekly.yaml")
    message = str(caught.value)
    assert f"weekly.yaml, line {line}, field `{field}`" in message
    assert says in message


def test_broken_yaml_and_missing_parts_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"weekly.yaml, line 3: not valid YAML"):
        Campaign.from_yaml("name: a\nsubject: [x\nblocks: {}\n", source="weekly.yaml")
    with pytest.raises(ConfigError, match="field `blocks`: is missing"):
        Campaign.from_yaml("name: a\nsubject: hi\n")
    with pytest.raises(ConfigError, match="at least two blocks"):
        Campaign.from_yaml(GOOD.split("  discount:")[0])
    with pytest.raises(ConfigError, match="is empty"):
        Campaign.from_yaml("")
    with pytest.raises(ConfigError, match="Could not read the campaign file"):
        load_campaign("/nonexistent/campaign.yaml")


def test_the_server_finds_campaigns_by_file_name(tmp_path):
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "weekly.yaml").write_text(GOOD)
    (tmp_path / "campaigns" / "other.yaml").write_text(GOOD)  # says `name: weekly` inside
    assert {"weekly", "other", "movie_night"} <= set(campaign_files(tmp_path))
    assert find_campaign("weekly", tmp_path).name == "weekly"
    assert find_campaign("movie_night", tmp_path).name == "movie_night"
    assert find_campaign("nope", tmp_path) is None
    with pytest.raises(ConfigError, match="named 'weekly' inside"):
        find_campaign("other", tmp_path)
