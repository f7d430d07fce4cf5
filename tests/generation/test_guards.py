"""Placeholders the model writes, filled from the request; replies the limit cut, trimmed."""

from __future__ import annotations

import pytest

from tailorai.generation.guards import fill_placeholders, tidy_content, trim_unfinished


@pytest.mark.parametrize(
    ("text", "customer", "expected"),
    [
        ("Dear [Customer Name],", "Ann", "Dear Ann,"),
        ("Dear [Customer Name],", None, "Hello,"),
        ("Hi [Name]! Thanks, [recipient's name].", None, "Hello! Thanks, you."),
        ("Best regards,\n[Your Name]", None, "Best regards,\nThe Cinema Club team"),
        ("Welcome to [Company Name]!", None, "Welcome to Cinema Club!"),
        ("Watch [Film A] at [Cinema B].", None, "Watch [Film A] at [Cinema B]."),
    ],
)
def test_known_placeholders_are_filled_and_unknown_ones_left_for_review(text, customer, expected):
    assert fill_placeholders(text, customer=customer, brand="Cinema Club") == expected


def test_without_a_brand_the_sender_is_the_team():
    assert fill_placeholders("[Your Name], [Company]") == "The team, us"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It ships today. We will email you when", "It ships today."),
        ('She said "see you soon!" and then', 'She said "see you soon!"'),
        ("Line one is done\nLine two is not fini", "Line one is done"),
        ("All done.", "All done."),
        ("A short start. Then a very long sentence that the limit cut " + "x " * 40, None),
    ],
)
def test_a_cut_reply_ends_at_its_last_whole_sentence_unless_that_loses_most_of_it(text, expected):
    assert trim_unfinished(text) == (expected if expected is not None else text.rstrip())


def test_a_category_placeholder_gets_the_users_favourite():
    text = "Films from [Favourite Film Category] and [genre]."
    assert fill_placeholders(text, category="Sci-Fi") == "Films from Sci-Fi and Sci-Fi."
    assert fill_placeholders(text) == text  # unknown: left for review


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What SmolLM2 wrote for the demo's lapsed member, header lines and all.
        (
            "Hello\nSubject: Welcome back to Cinema Club!\nDate: 25th January, 2019\n"
            "Email: [Your Email Address]\nWe miss you.\nBest regards,\n👨‍❤️💬✈️🎉",
            "Hello\nWe miss you.\nBest regards,\nThe Cinema Club team",
        ),
        ("To: you\nFROM : us\nNew films are in.", "New films are in."),
        # A recipient line without its "To:" is dropped; the sender's is fill_placeholders'.
        ("Hello\n[Customer Name] (Cinema Club)\nWe miss you.", "Hello\nWe miss you."),
        ("Kind regards,\n[Your Name]", "Kind regards,\n[Your Name]"),  # fill_placeholders' job
        ("The date: Friday. Subject: films.", "The date: Friday. Subject: films."),  # mid-line
        ("Enjoy the show! 🎬", "Enjoy the show! 🎬"),  # emoji in a sentence stay
    ],
)
def test_content_loses_header_lines_and_emoji_endings_and_gets_signed(text, expected):
    assert tidy_content(text, brand="Cinema Club") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "This week's films blend comedy, drama and action with delightful twists.\n"
            "Please find below a selection from our newest additions:\n1.",
            "This week's films blend comedy, drama and action with delightful twists.",
        ),
        ("Films for you.\nOur picks:\n- ", "Films for you."),
        ("Three films:\n1. Alien.\n2. Heat.\n3.", "Three films:\n1. Alien.\n2. Heat."),
    ],
)
def test_a_list_the_limit_cut_before_its_item_is_dropped(text, expected):
    assert trim_unfinished(text) == expected


def test_platform_and_underscored_placeholders_are_the_brand():
    text = "Streaming on [platform_name] and [Website]."
    assert (
        fill_placeholders(text, brand="Cinema Club") == "Streaming on Cinema Club and Cinema Club."
    )
