"""Pydantic schemas of the LLM-written persona tiers.

The categorical fields use fixed vocabularies so that a tier's personas can be
raked toward real targets (the recalled 2020 vote toward each state's 2020 result;
party ID and ideology from ANES/GSS/Pew) without guessing how free text maps onto
categories.

A schema belongs to a prompt version (:data:`TEMPLATE_SCHEMAS`): ``subjective-v2`` adds
the recalled 2020 presidential vote (``vote_2020``) that election jobs rake on by
default; ``subjective-v1`` stays reproducible with its own schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..data import categories

__all__ = [
    "IDEOLOGY",
    "PARTY_ID",
    "RELIGIOSITY",
    "VOTE_2020",
    "ObjectiveTabular",
    "SubjectiveTabular",
    "SubjectiveTabularV1",
    "Descriptive",
    "BigFive",
    "TIER_SCHEMAS",
    "TEMPLATE_SCHEMAS",
]

IDEOLOGY = categories("ideology5")
PARTY_ID = categories("party_id4")
RELIGIOSITY = categories("religiosity3")
VOTE_2020 = categories("vote_2020")
COMMUTE = ("drive alone", "carpool", "public transit", "walk or bike", "work from home", "not working")

Ideology = Literal["very liberal", "liberal", "moderate", "conservative", "very conservative"]
PartyId = Literal["Democrat", "Republican", "Independent", "Other"]
Religiosity = Literal["not religious", "somewhat religious", "very religious"]
Vote2020 = Literal["Biden", "Trump", "Other", "Did not vote"]
Commute = Literal["drive alone", "carpool", "public transit", "walk or bike", "work from home", "not working"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectiveTabular(_Strict):
    """Measurable facts the census table does not carry."""

    occupation: str = Field(..., min_length=2, max_length=80, description="job title, or 'not working'")
    industry: str = Field(..., min_length=2, max_length=80)
    household_size: int = Field(..., ge=1, le=15, description="people in the household, the person included")
    number_of_children: int = Field(..., ge=0, le=12, description="children under 18 living in the household")
    commute: Commute = Field(..., description="how the person gets to work; 'not working' without a job")
    years_at_current_address: int = Field(..., ge=0, le=90)
    owns_home: bool


class BigFive(_Strict):
    """Big Five traits on a 1-5 scale."""

    openness: int = Field(..., ge=1, le=5)
    conscientiousness: int = Field(..., ge=1, le=5)
    extraversion: int = Field(..., ge=1, le=5)
    agreeableness: int = Field(..., ge=1, le=5)
    neuroticism: int = Field(..., ge=1, le=5)


#: A short phrase; bounded so that guided decoding cannot ramble inside one list item.
Phrase = Annotated[str, Field(min_length=2, max_length=40)]


class SubjectiveTabularV1(_Strict):
    """Attitudes and personality: the attributes the seed paper found skewed (prompt subjective-v1)."""

    ideology: Ideology
    party_id: PartyId
    religiosity: Religiosity
    big_five: BigFive
    core_values: list[Phrase] = Field(..., min_length=1, max_length=5)
    interests: list[Phrase] = Field(..., min_length=1, max_length=6)


class SubjectiveTabular(_Strict):
    """Attitudes, personality and the recalled 2020 presidential vote (prompt subjective-v2)."""

    ideology: Ideology
    party_id: PartyId
    vote_2020: Vote2020 = Field(..., description=(
        "whom this person says they voted for in the 2020 presidential election; 'Did not vote' if they did "
        "not vote or could not (too young, not a citizen)"))
    religiosity: Religiosity
    big_five: BigFive
    core_values: list[Phrase] = Field(..., min_length=1, max_length=5)
    interests: list[Phrase] = Field(..., min_length=1, max_length=6)


class Descriptive(_Strict):
    """A free-text narrative in the persona's own voice."""

    narrative: str = Field(..., min_length=40, max_length=4000)


#: Each prompt version's schema; a schema change needs a new prompt version.
TEMPLATE_SCHEMAS: dict[str, type[BaseModel]] = {
    "objective-v1": ObjectiveTabular,
    "subjective-v1": SubjectiveTabularV1,
    "subjective-v2": SubjectiveTabular,
    "descriptive-v1": Descriptive,
}
#: The schema of each tier's latest prompt version.
TIER_SCHEMAS: dict[str, type[BaseModel]] = {
    "objective": ObjectiveTabular,
    "subjective": SubjectiveTabular,
    "descriptive": Descriptive,
}
