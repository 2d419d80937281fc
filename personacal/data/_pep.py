"""PEP 2023 civilian population by state, sex and single year of age."""

from __future__ import annotations

import pandas as pd

from ._ages import band_age
from ._states import resolve_state
from ._sources import pep_cells

__all__ = ["pep_age_sex"]


def pep_age_sex(state=None, *, banded: bool = False) -> pd.DataFrame:
    """Census PEP Vintage 2023 civilian population, July 1 2023, by sex and age.

    Parameters
    ----------
    state
        Postal code or name (50 states and DC); ``None`` returns all 51.
    banded
        ``False``: one row per single year of age, ``age`` 0..85 where 85 means 85 and over.
        ``True``: ``age`` is the age group of the total-population margins ("Under 18",
        "18-24", ..., "65+"; see :func:`band_age`).

    Returns
    -------
    DataFrame with columns ``state, sex, age, population``.
    """
    frame = pep_cells(None if state is None else resolve_state(state, func="pep_age_sex"))
    if not banded:
        return frame
    frame["age"] = band_age(frame["age"], universe="total")
    # The shipped table is sorted by state, sex (Male first) and age, so first-seen order is the right order.
    return frame.groupby(["state", "sex", "age"], observed=True, sort=False)["population"].sum().reset_index()
