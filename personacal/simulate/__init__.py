"""Personas answer survey questions through an LLM backend (or a demographic respondent model).

``simulate`` asks every persona every question, either reading the first-token
probabilities of the option letters (OpinionQA/SubPOP) or sampling replies and
parsing them (the seed paper, arXiv 2503.16527). Questions come from shipped
banks (elections 2016/2020/2024, OpinionQA and SubPOP) with Pew reference
distributions for a curated OpinionQA subset.
"""

from ._banks import (
    available_question_banks,
    election_question,
    load_question_bank,
    reference_distributions,
)
from ._prompts import TEMPLATES, render_persona
from ._question import Question
from ._respondent import RespondentModel, RespondentSimulationResult
from ._respondent_model import DemographicModel
from ._result import SimulationResult
from ._simulate import simulate

__all__ = [
    "Question",
    "election_question",
    "load_question_bank",
    "available_question_banks",
    "reference_distributions",
    "render_persona",
    "TEMPLATES",
    "simulate",
    "SimulationResult",
    "RespondentModel",
    "RespondentSimulationResult",
    "DemographicModel",
]
