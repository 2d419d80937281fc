"""State codes: lookup by postal code or name, and the states table."""

from __future__ import annotations

import difflib

import pandas as pd

from ..errors import UnknownRegionError
from ._categories import DIVISIONS, NO_ACS_PROFILE, REGIONS, STATES

__all__ = ["resolve_state", "states"]

_BY_NAME = {name.lower(): code for code, (name, *_rest) in STATES.items()}


def resolve_state(state, *, func: str, allowed: frozenset[str] | None = None) -> str:
    """The postal code for ``state`` (a postal code or a full name, any case).

    ``allowed`` narrows the valid codes (e.g. the states with an ACS profile); a code outside it
    raises the same error, with the narrower list.
    """
    valid = sorted(allowed if allowed is not None else STATES)
    text = str(state).strip()
    code = text.upper() if text.upper() in STATES else _BY_NAME.get(text.lower())
    if code is not None and code in valid:
        return code
    if code is not None:
        raise UnknownRegionError(
            f"`state` of {func} must be one of the {len(valid)} regions this table covers; got {state!r} "
            f"({STATES[code][0]}), which it does not cover. Valid codes: {', '.join(valid)}"
        )
    candidates = valid + [STATES[c][0] for c in valid]
    short = len(text) <= 2
    close = difflib.get_close_matches(text.upper() if short else text.title(), candidates, n=3,
                                      cutoff=0.5 if short else 0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownRegionError(
        f"`state` of {func} must be a US state postal code or name (50 states + DC); got {state!r}.{hint} "
        f"Valid codes: {', '.join(valid)}"
    )


def states() -> pd.DataFrame:
    """The 50 states and DC: postal code, name, FIPS, Census region and division, data coverage.

    ``has_acs_margins`` is False for DC: the ACS 2023 state-profile snapshot covers the 50 states
    only, so DC has PEP age x sex margins but no ACS margins.
    """
    rows = [
        {
            "state": code,
            "name": name,
            "fips": fips,
            "region": REGIONS[region],
            "division": DIVISIONS[division],
            "has_acs_margins": code not in NO_ACS_PROFILE,
            "has_pep_age_sex": True,
            "has_election_results": True,
        }
        for code, (name, fips, region, division) in sorted(STATES.items())
    ]
    frame = pd.DataFrame(rows)
    return frame.astype({c: "string" for c in ("state", "name", "fips", "region", "division")})
