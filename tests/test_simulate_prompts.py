"""Persona rendering and the persona-first prompt layout."""

import numpy as np
import pytest

from personacal.backends import ChatMessage
from personacal.errors import InputError
from personacal.simulate import TEMPLATES, election_question, render_persona
from personacal.simulate._prompts import build_prompt

TEMPLATE = TEMPLATES["survey-v1"]


def test_attributes_become_labelled_lines_without_missing_values():
    row = {"persona_id": "p1", "AGE": "65 to 74 years", "LABOR FORCE STATUS": "Not in Labor Force",
           "state_name": "Wyoming", "CAREER": "Not Applicable", "income": np.nan, "weight": 2.5, "_row": 3,
           "children": 2.0}
    assert render_persona(row) == (
        "- Age: 65 to 74 years\n- Labor force status: Not in Labor Force\n- State name: Wyoming\n- Children: 2"
    )


def test_description_column_wins():
    row = {"persona_id": "p1", "age": 40, "description": "  Meet Abuela Elena, 68, from California.  "}
    assert render_persona(row) == "Meet Abuela Elena, 68, from California."


def test_empty_description_falls_back_to_attributes():
    assert render_persona({"age": 40, "description": ""}) == "- Age: 40"


def test_chosen_columns_and_errors():
    row = {"persona_id": "p1", "age": 40, "sex": "Male"}
    assert render_persona(row, columns=["sex"]) == "- Sex: Male"
    with pytest.raises(InputError, match=r"`persona_columns` names columns the personas do not have: \['state'\]"):
        render_persona(row, columns=["state"])
    with pytest.raises(InputError, match=r"persona 'p9' renders to an empty description"):
        render_persona({"persona_id": "p9", "career": "Not Applicable"})


def test_chat_prompt_layout_and_letters_follow_the_order():
    q = election_question(2024)
    system, user = build_prompt("- Age: 40", q, [1, 0, 2, 3], template=TEMPLATE, prompt_format="chat")
    assert isinstance(system, ChatMessage) and system.role == "system" and user.role == "user"
    assert system.content.endswith("### PERSONA ###\n- Age: 40")
    assert "A. Donald Trump\nB. Kamala Harris\nC. Another candidate\nD. Would not vote" in user.content
    assert user.content.endswith("Answer with one letter (A, B, C or D).\nAnswer:")
    assert q.text in user.content


def test_one_persona_shares_its_prefix_across_questions():
    a = build_prompt("- Age: 40", election_question(2016), [0, 1, 2, 3], template=TEMPLATE, prompt_format="text")
    b = build_prompt("- Age: 40", election_question(2020), [2, 1, 0, 3], template=TEMPLATE, prompt_format="text")
    prefix = TEMPLATE.instructions + "\n\n### PERSONA ###\n- Age: 40\n\n"
    assert a.startswith(prefix) and b.startswith(prefix)
    assert a.endswith("Answer:")


def test_unknown_prompt_format():
    with pytest.raises(InputError, match=r"^`prompt_format` of build_prompt must be one of 'chat', 'text'; got 'xml'$"):
        build_prompt("x", election_question(2016), [0, 1, 2, 3], template=TEMPLATE, prompt_format="xml")
