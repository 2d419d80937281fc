"""The demographic predictors of a respondent model: from the survey extracts and from persona tables.

Both sides use the shared category labels of :func:`personacal.data.categories`, so a persona
column matches a survey column without a hand-written map. A persona table may carry a finer
variable than the model needs (``race4`` or ``race`` for the GSS's ``race3``, ``race_eth`` for
ANES's ``race_eth4``); :func:`personacal.data.category_map` collapses it, and refuses where the
persona column is coarser than the model (``education3`` for ``education5``). ``region`` is the
Census region; personas that carry a state (postal code or name) in ``region`` or ``state``
get their state's Census region.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..data import anes_subset, categories, category_map, gss_subset, states
from ..errors import InputError, MappingError, MissingValueError, UnknownCategoryError

__all__ = ["SURVEY_PREDICTORS", "DEFAULT_PREDICTORS", "survey_table", "persona_covariates"]

#: Predictors each survey extract carries in the shared labels.
SURVEY_PREDICTORS = {
    "GSS": ("sex", "age", "race3", "education5", "education3", "employment3"),
    "ANES": ("age", "race_eth4", "education4", "region"),
}
#: Defaults: the predictors that personacal's own Meta personas (sex, age, race4, race_eth,
#: education3, employment3, region = state) can supply. ANES has no sex column, and its
#: education4 cannot be built from education3.
DEFAULT_PREDICTORS = {
    "GSS": ("sex", "age", "race3", "education3", "employment3"),
    "ANES": ("age", "race_eth4", "region"),
}
#: Persona columns tried for a predictor, besides the predictor's own name, finest first.
_SOURCES = {
    "race3": ("race", "race4"),
    "race_eth4": ("race_eth",),
    "education5": ("education",),
    "education4": ("education",),
    "education3": ("education", "education5"),
    "employment3": ("employment",),
}


def survey_table(survey: str, years: Sequence[int]) -> pd.DataFrame:
    """The survey extract, restricted to ``years``."""
    frame = gss_subset() if survey == "GSS" else anes_subset()
    return frame[frame["year"].isin(list(years))].reset_index(drop=True)


def persona_covariates(personas: pd.DataFrame, variables: Sequence[str], *, func: str) -> pd.DataFrame:
    """One Categorical column per predictor, in the shared labels, for every persona.

    Raises :class:`InputError` when no persona column can supply a predictor,
    :class:`UnknownCategoryError` for labels outside the shared ones and
    :class:`MissingValueError` for a missing value (the model has no answer for it).
    """
    out = {}
    for variable in variables:
        values, column = _resolve(personas, variable, func)
        missing = values.isna()
        if missing.any():
            raise MissingValueError(
                f"column {column!r} of the personas passed to {func} has {int(missing.sum())} missing value(s) "
                f"(rows {list(personas.index[missing.to_numpy()][:5])}); the demographic model needs `{variable}` "
                "for every persona: fill or drop those personas"
            )
        out[variable] = pd.Categorical(values, categories=list(categories(variable)))
    return pd.DataFrame(out, index=personas.index)


def _resolve(personas: pd.DataFrame, variable: str, func: str) -> tuple[pd.Series, str]:
    if variable == "region":
        return _census_region(personas, func)
    for column in (variable, *_SOURCES.get(variable, ())):
        if column not in personas.columns:
            continue
        labels = personas[column].astype("object")
        allowed = categories(column)
        unknown = sorted({str(v) for v in labels.dropna().unique()} - set(allowed))
        if unknown:
            raise UnknownCategoryError(
                f"column {column!r} of the personas passed to {func} has labels {unknown[:8]} outside the shared "
                f"{column} categories {list(allowed)} (see personacal.data.categories); recode them first"
            )
        mapping = category_map(column, variable)
        return labels.map(mapping), column
    coarse = [c for c in ("education3", "education4", "education5") if c in personas.columns and c != variable]
    hint = ""
    if variable.startswith("education") and coarse:
        try:
            category_map(coarse[0], variable)
        except MappingError as exc:
            hint = f" ({exc})"
    raise InputError(
        f"the demographic model needs persona attribute `{variable}`, but the personas passed to {func} have none "
        f"of the columns {[variable, *_SOURCES.get(variable, ())]} that supply it{hint}; add the column or fit the "
        f"model with `predictors` that leave out `{variable}`"
    )


def _census_region(personas: pd.DataFrame, func: str) -> tuple[pd.Series, str]:
    table = states()
    regions = set(categories("region"))
    lookup = {**dict(zip(table["state"], table["region"])),
              **dict(zip(table["name"].str.casefold(), table["region"]))}
    for column in ("region", "state"):
        if column not in personas.columns:
            continue
        labels = personas[column].astype("object")
        as_region = labels.where(labels.isin(regions))
        as_state = labels.map(lambda v: lookup.get(v, lookup.get(str(v).casefold())) if isinstance(v, str) else None)
        resolved = as_region.fillna(as_state)
        unknown = sorted({str(v) for v, r in zip(labels, resolved) if pd.notna(v) and pd.isna(r)})
        if unknown:
            raise UnknownCategoryError(
                f"column {column!r} of the personas passed to {func} has values {unknown[:8]} that are neither a "
                f"Census region {sorted(regions)} nor a US state code or name"
            )
        return resolved, column
    raise InputError(
        f"the demographic model needs the Census region of each persona, but the personas passed to {func} have "
        "no `region` or `state` column (a state code, state name or Census region); add one or fit the model "
        "with `predictors` that leave out `region`"
    )
