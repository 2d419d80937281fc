"""State joints and Meta personas from the shipped ACS margins and the national ACS 2012 seed."""

from __future__ import annotations

from collections.abc import Sequence

from ..calibrate import Margins, reconstruct_joint
from ..calibrate import JointResult
from ..data import census_margins, national_seed, race_by_ethnicity, states

__all__ = ["PERSONA_VARIABLES", "state_margins", "state_joints"]

#: Census attributes of a Meta persona. race4 and the three coarse columns are those the
#: ACS 2012 seed carries; race_eth (with Hispanic origin) enters through the (race4, race_eth) cross-tab.
PERSONA_VARIABLES = ("sex", "age", "race4", "race_eth", "education3", "employment3")


def _state_codes(state: str | Sequence[str]) -> list[str]:
    if isinstance(state, str) and state.lower() == "all":
        table = states()
        return table.loc[table["has_acs_margins"], "state"].tolist()
    return [state] if isinstance(state, str) else list(state)


def state_margins(state: str, *, anchor: str = "acs") -> Margins:
    """A state's persona margins: 1-D ACS margins plus the (race4, race_eth) cross-tab.

    With ``anchor="pep"`` the totals come from PEP 2023 and the true two-way
    (age, sex) table of PEP is added.
    """
    variables = ["sex", "age", "race4", "race_eth", "education3", "employment3"]
    if anchor == "pep":
        variables.append(("age", "sex"))
    base = census_margins(state, variables=variables, anchor=anchor)
    margins = {m.key: m.values for m in base if m.key != "race_eth"}
    margins[("race4", "race_eth")] = race_by_ethnicity(base)
    return Margins(margins, name=base.name)


def state_joints(state: str | Sequence[str] = "all", *, method: str = "ipf", anchor: str = "acs",
                 smoothing: float = 0.01, progress: bool | None = None, random_state=None, **options) -> JointResult:
    """Reconstruct the joint of :data:`PERSONA_VARIABLES` for one, several or all ("all") states.

    ``"ipf"`` and ``"bayes"`` start from the ACS 2012 adult sample (national
    joint structure of sex, age, race, education and employment) with
    ``smoothing`` of the independence table mixed in so that combinations the
    small seed never saw can still occur.
    """
    codes = _state_codes(state)
    margins = {code: state_margins(code, anchor=anchor) for code in codes}
    for code, m in margins.items():
        m.name = code
    if method == "independent":
        return reconstruct_joint(margins, method="independent", variables=PERSONA_VARIABLES, progress=progress)
    return reconstruct_joint(
        margins, seed=national_seed(), method=method, variables=PERSONA_VARIABLES, smoothing=smoothing,
        independent_of_seed=("race_eth",), progress=progress, random_state=random_state, **options,
    )
