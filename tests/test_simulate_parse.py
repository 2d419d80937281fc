"""The reply parser of method='sample' on a table of replies (expected choices written by hand)."""

import pytest

from personacal.simulate._parse import parse_choice

LETTERS = ("A", "B", "C", "D")
SAFE = ("Very safe", "Somewhat safe", "Not too safe", "Not at all safe")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("A", 0),
        ("B)", 1),
        ("(C)", 2),
        ("D.", 3),
        ("  b) ", 1),
        ("c", 2),
        ("[A]", 0),
        ("Answer: C", 2),
        ("answer is (D)", 3),
        ("**Answer:** B", 1),
        ("The answer is B because she lives in a safe town.", 1),
        ("Reasoning: she feels fine walking at night.\nAnswer: A", 0),
        ("Final answer: d", 3),
        ("B: Somewhat safe", 1),
        ("C. Not too safe", 2),
        ("Somewhat safe", 1),
        ("somewhat safe.", 1),
        ("Not at all safe, I think", 3),
        ("I would say not too safe", 2),
        ("Answer: Very safe", 0),
        ("'A'", 0),
        # not choices
        ("", None),
        ("   ", None),
        ("E", None),  # not among the letters shown
        ("Answer: Z", None),
        ("A or B", None),
        ("B/C", None),
        ("As a retired farmer I would rather not say.", None),
        ("I think so", None),
        ("A lot of things matter here", None),
        ("Safe", None),  # names no single option
        ("safe or not too safe, hard to say, somewhat safe", None),  # names two options
    ],
)
def test_parse_choice_table(reply, expected):
    assert parse_choice(reply, LETTERS, SAFE) == expected


def test_longer_option_name_wins_over_the_name_it_contains():
    options = ("Good", "Very good", "Bad")
    assert parse_choice("I'd say very good overall", LETTERS[:3], options) == 1
    assert parse_choice("good", LETTERS[:3], options) == 0


def test_option_text_with_apostrophe():
    options = ("Yes", "No", "Don't know")
    assert parse_choice("Don't know.", LETTERS[:3], options) == 2


def test_article_a_is_an_option_when_it_is_the_exact_option_text():
    options = ("A lot", "A little", "Not at all")
    assert parse_choice("A lot", LETTERS[:3], options) == 0
    assert parse_choice("a little", LETTERS[:3], options) == 1
    assert parse_choice("B", LETTERS[:3], options) == 1


def test_letter_i_is_a_choice_only_when_standing_alone():
    letters = tuple("ABCDEFGHIJ")
    options = tuple(f"option {k}" for k in range(10))
    assert parse_choice("I", letters, options) == 8
    assert parse_choice("I)", letters, options) == 8
    assert parse_choice("I think C", letters, options) is None
