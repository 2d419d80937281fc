"""Survey microdata (Rdatasets exports): ACS 2012 seed, GSS 2018 subset, ANES 1978-2012 subset.

Every categorical column is recoded to the labels of personacal.data._categories, so a seed column
and a census margin of the same name use identical strings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personacal.data import _categories as C


def _band_age(age: pd.Series) -> pd.Series:
    groups = pd.cut(age, bins=[-np.inf, *C.AGE_GROUP_LOWER, np.inf], right=False, labels=["Under 18", *C.AGE_GROUPS])
    return groups.astype("string")


def _band_income(income: pd.Series) -> pd.Series:
    groups = pd.cut(income, bins=[*C.INCOME_BRACKET_LOWER, np.inf], right=False, labels=list(C.INCOME_BRACKETS))
    return groups.astype("string")


def _recode(series: pd.Series, mapping: dict, name: str, problems: list[str]) -> pd.Series:
    unknown = sorted(set(series.dropna().unique()) - set(mapping))
    if unknown:
        problems.append(f"{name}: values without a mapping {unknown}")
    return series.map(mapping).astype("string")


def acs12(path: Path, problems: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(path)
    out = pd.DataFrame({"person_id": np.arange(1, len(raw) + 1)})
    out["age_years"] = raw["age"].astype(int)
    out["age"] = _band_age(raw["age"])
    out["sex"] = _recode(raw["gender"], {"male": "Male", "female": "Female"}, "acs12 gender", problems)
    out["race4"] = _recode(raw["race"], {"white": "White", "black": "Black", "asian": "Asian", "other": "Other"},
                           "acs12 race", problems)
    out["education3"] = _recode(raw["edu"], dict(zip(("hs or lower", "college", "grad"), C.EDUCATION_3, strict=True)),
                                "acs12 edu", problems)
    out["employment3"] = _recode(raw["employment"], {
        "employed": "Employed (incl. Armed Forces)", "unemployed": "Unemployed",
        "not in labor force": "Not in labor force"}, "acs12 employment", problems)
    married = _recode(raw["married"], {"yes": "Married", "no": "Not married"}, "acs12 married", problems)
    # Marital status is asked of people 15+; acs12 codes younger children "no", which is not an answer.
    out["marital2"] = married.where(raw["age"] >= 15)
    out["personal_income"] = raw["income"]
    out["personal_income_bracket"] = _band_income(raw["income"])
    out["hours_worked"] = raw["hrs_work"]
    out["time_to_work"] = raw["time_to_work"]
    out["citizen"] = raw["citizen"].map({"yes": True, "no": False}).astype("boolean")
    out["language"] = _recode(raw["lang"], {"english": "English", "other": "Other"}, "acs12 lang", problems)
    out["disability"] = raw["disability"].map({"yes": True, "no": False}).astype("boolean")
    return out


GSS_WRKSTAT = {1: "Employed (incl. Armed Forces)", 2: "Employed (incl. Armed Forces)", 3: "Employed (incl. Armed Forces)",
               4: "Unemployed", 5: "Not in labor force", 6: "Not in labor force", 7: "Not in labor force",
               8: "Not in labor force"}
GSS_WRKSTAT_DETAIL = {1: "Working full time", 2: "Working part time", 3: "With a job, not at work",
                      4: "Unemployed, laid off", 5: "Retired", 6: "In school", 7: "Keeping house", 8: "Other"}
EDUCATION_5_TO_3 = {C.EDUCATION_TO_5[k]: v for k, v in C.EDUCATION_TO_3.items()}
NAT_ITEMS = ["natspac", "natenvir", "natheal", "natcity", "natcrime", "natdrug", "nateduc", "natrace", "natarms",
             "nataid", "natfare", "natroad", "natsoc", "natmass", "natpark", "natchld", "natsci", "natenrgy"]


def gss(path: Path, problems: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(path)
    out = pd.DataFrame({"year": raw["year"].astype(int), "respondent_id": raw["id"].astype(int)})
    out["age_years"] = raw["age"].astype("Int64")
    out["age"] = _band_age(raw["age"])
    out["sex"] = _recode(raw["sex"], {0: "Male", 1: "Female"}, "gss sex", problems)
    out["race3"] = _recode(raw["race"], dict(zip((1, 2, 3), C.RACE_3, strict=True)), "gss race", problems)
    out["years_of_school"] = raw["educ"].astype("Int64")
    out["education5"] = _recode(raw["degree"], dict(enumerate(C.EDUCATION_5)), "gss degree", problems)
    out["education3"] = out["education5"].map(EDUCATION_5_TO_3).astype("string")
    out["employment3"] = _recode(raw["wrkstat"], GSS_WRKSTAT, "gss wrkstat", problems)
    out["work_status"] = _recode(raw["wrkstat"], GSS_WRKSTAT_DETAIL, "gss wrkstat", problems)
    out["respondent_income_code"] = raw["rincom16"].astype("Int64")
    # partyid 7 = "other party": not a point on the 7-point scale, so it gets its own flag.
    out["party_id7"] = _recode(raw["partyid"].where(raw["partyid"] != 7), dict(enumerate(C.PARTY_ID_7)),
                               "gss partyid", problems)
    out["other_party"] = (raw["partyid"] == 7).astype("boolean").where(raw["partyid"].notna())
    out["party3"] = out["party_id7"].map(C.PARTY_ID_7_TO_3).astype("string")
    out["ideology7"] = _recode(raw["polviews"], dict(zip(range(1, 8), C.IDEOLOGY_7, strict=True)), "gss polviews", problems)
    out["ideology3"] = out["ideology7"].map(C.IDEOLOGY_7_TO_3).astype("string")
    out["place_size_code"] = raw["xnorcsiz"].astype("Int64")
    # The R documentation (authoritative, by the recoder): -1 = too much, 0 = about right, 1 = too little.
    spending = {1: "Too little", 0: "About right", -1: "Too much"}
    for item in NAT_ITEMS:
        out[item] = _recode(raw[item], spending, f"gss {item}", problems)
    return out


ANES_EDUCAT = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 3}
ANES_RACE4 = {1: "White non-Hispanic", 2: "Black non-Hispanic", 3: "Hispanic", 4: "Other non-Hispanic"}
ANES_URBANISM = {1: "Central city", 2: "Suburban", 3: "Rural, small town or outlying"}
ANES_INCOME = {1: "0-16", 2: "17-33", 3: "34-67", 4: "68-95", 5: "96-100"}
ANES_POLINT = {1: "Hardly at all", 2: "Only now and then", 3: "Some of the time", 4: "Most of the time"}


def anes(path: Path, problems: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype={"stateabb": str})
    out = pd.DataFrame({"year": raw["year"].astype(int), "respondent_id": raw["uid"].astype("int64")})
    # "99" marks an unknown state (4 respondents in 2000).
    state = raw["stateabb"].where(raw["stateabb"].isin(list(C.STATES)))
    out["state"] = state.astype("string")
    out["region"] = state.map({k: C.REGIONS[v[2]] for k, v in C.STATES.items()}).astype("string")
    age = raw["age"].where(raw["age"] > 0)  # age 0 = not ascertained
    out["age_years"] = age.astype("Int64")
    out["age"] = _band_age(age).where(age >= 18)
    out["education4"] = _recode(raw["educat"], {k: C.EDUCATION_4[v] for k, v in ANES_EDUCAT.items()},
                                "anes educat", problems)
    out["race_eth4"] = _recode(raw["race4"], ANES_RACE4, "anes race4", problems)
    out["party_id7"] = _recode(raw["pid7"], dict(zip(range(1, 8), C.PARTY_ID_7, strict=True)), "anes pid7", problems)
    out["party3"] = out["party_id7"].map(C.PARTY_ID_7_TO_3).astype("string")
    for col in ("therm_dem", "therm_gop", "therm_bmp", "mpti"):
        out[col] = raw[col].astype("Int64")
    out["urbanism"] = _recode(raw["urbanism"], ANES_URBANISM, "anes urbanism", problems)
    out["income_percentile"] = _recode(raw["incomeperc"], ANES_INCOME, "anes incomeperc", problems)
    out["temporarily_unemployed"] = raw["unemployed"].map({0: False, 1: True}).astype("boolean")
    out["political_interest"] = _recode(raw["polint"], ANES_POLINT, "anes polint", problems)
    for col in ("distrust_govt", "govt_crooked", "govt_waste", "govt_biginterests"):
        out[col] = raw[col].astype("Int64")
    return out


def curate(rdatasets_dir: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    problems: list[str] = []
    tables = {
        "acs2012_seed.csv.gz": acs12(rdatasets_dir / "openintro__acs12.csv", problems),
        "gss2018_subset.csv.gz": gss(rdatasets_dir / "stevedata__gss_spending.csv", problems),
        "anes_partytherms_subset.csv.gz": anes(rdatasets_dir / "stevedata__anes_partytherms.csv", problems),
    }
    return tables, problems
