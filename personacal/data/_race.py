"""Race × Hispanic origin as a two-way margin, derived from the ACS race and race/ethnicity rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calibrate import Margins
from ..errors import InputError

__all__ = ["race_by_ethnicity", "RACE4_OF_RACE", "RACE4_OF_NON_HISPANIC"]

#: DP05 race alone (regardless of Hispanic origin) → the four groups of the ACS 2012 seed.
RACE4_OF_RACE = {
    "White": "White", "Black": "Black", "Asian": "Asian",
    "AIAN": "Other", "NHPI": "Other", "Other race": "Other", "Two or more races": "Other",
}
#: Non-Hispanic race/ethnicity categories → their race4 group.
RACE4_OF_NON_HISPANIC = {
    "White non-Hispanic": "White", "Black non-Hispanic": "Black", "Asian non-Hispanic": "Asian",
    "AIAN non-Hispanic": "Other", "NHPI non-Hispanic": "Other", "Other race non-Hispanic": "Other",
    "Two or more races non-Hispanic": "Other",
}


def race_by_ethnicity(margins: Margins) -> pd.Series:
    """The (race4, race_eth) cross-tab implied by a region's ``race4`` and ``race_eth`` margins.

    DP05 publishes race regardless of origin and race among non-Hispanics; their
    difference is race among Hispanics. Every non-Hispanic category sits in one
    race4 group; "Hispanic" splits across all four. Small negative differences
    (rounding between published rows) are set to 0 and the Hispanic column is
    rescaled to the Hispanic total, so the table agrees with both margins.
    """
    for key in ("race4", "race_eth"):
        if key not in margins:
            raise InputError(f"race_by_ethnicity needs a {key!r} margin; the margins hold {margins.keys()}")
    race4, race_eth = margins["race4"], margins["race_eth"]
    non_hispanic = race_eth.drop("Hispanic").groupby(RACE4_OF_NON_HISPANIC).sum().reindex(race4.index, fill_value=0.0)
    hispanic = np.clip(race4 - non_hispanic, 0.0, None)
    hispanic *= race_eth["Hispanic"] / hispanic.sum()
    cells = {(RACE4_OF_NON_HISPANIC[c], c): v for c, v in race_eth.drop("Hispanic").items()}
    cells |= {(r, "Hispanic"): v for r, v in hispanic.items()}
    # List every combination (0 where impossible) so no cell is left unlisted.
    grid = pd.MultiIndex.from_product([race4.index, race_eth.index], names=["race4", "race_eth"])
    return pd.Series([cells.get(c, 0.0) for c in grid], index=grid, name="target")
