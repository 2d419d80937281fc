"""Band single years of age into the age groups used by the census margins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import Options, check_param
from ._categories import AGE_GROUP_LOWER, AGE_GROUPS_BY_UNIVERSE

__all__ = ["band_age"]

_ADULT_EDGES = [*AGE_GROUP_LOWER, np.inf]
#: Bin edges [lower, upper) of each universe's age groups (AGE_GROUPS_BY_UNIVERSE labels).
_EDGES = {"total": [-np.inf, *_ADULT_EDGES], "16+": [16, *_ADULT_EDGES], "adult": _ADULT_EDGES, "25+": _ADULT_EDGES[1:]}


def band_age(ages, *, universe: str = "adult") -> pd.Categorical:
    """Age groups of ``ages`` (years), with the categories of the margins of ``universe``.

    ``universe="adult"`` gives 18-24, 25-34, 35-44, 45-54, 55-64, 65+; ages under 18 become
    missing. ``"total"`` adds "Under 18" for them, ``"16+"`` adds "16-17", and ``"25+"`` starts
    at 25-34. The result is an ordered Categorical whose categories are exactly the margin's.
    """
    check_param("band_age", "universe", universe, Options(_EDGES))
    labels = list(AGE_GROUPS_BY_UNIVERSE[universe])
    values = pd.to_numeric(pd.Series(ages), errors="raise").to_numpy(dtype=float)
    return pd.Categorical(pd.cut(values, bins=_EDGES[universe], right=False, labels=labels), categories=labels, ordered=True)
