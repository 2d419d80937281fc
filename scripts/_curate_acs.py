"""ACS 2023 1-year state profiles (DP02, DP03, DP05, S2301, S2401) -> tidy tables.

The raw files are two columns ``Label,Value`` with Census variable labels such as
``Estimate!!SEX AND AGE!!Total population!!Male``. Only ``Estimate`` rows (and, for the
subject tables, ``Margin of Error`` rows) are used; ``Percent`` rows are derived numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personacal.data import _categories as C

#: Census API sentinels (https://www.census.gov/data/developers/data-sets/acs-1year/notes-on-acs-estimate-and-annotation-values.html)
SENTINELS = {-888888888.0: "not applicable", -999999999.0: "too few sample observations (N)"}

DP05_TOTAL = "Estimate!!SEX AND AGE!!Total population"
DP05_AGE_25_PLUS = [
    "25 to 34 years", "35 to 44 years", "45 to 54 years", "55 to 59 years",
    "60 to 64 years", "65 to 74 years", "75 to 84 years", "85 years and over",
]
DP05_RACE = "Estimate!!RACE!!Total population"
DP05_RACE_ROWS = dict(zip(C.RACE, [
    "!!One race!!White", "!!One race!!Black or African American",
    "!!One race!!American Indian and Alaska Native", "!!One race!!Asian",
    "!!One race!!Native Hawaiian and Other Pacific Islander", "!!One race!!Some Other Race",
    "!!Two or More Races",
], strict=True))
DP05_HISP = "Estimate!!HISPANIC OR LATINO AND RACE!!Total population"
DP05_HISP_ROWS = dict(zip(C.RACE_ETH, [
    "!!Hispanic or Latino (of any race)",
    "!!Not Hispanic or Latino!!White alone",
    "!!Not Hispanic or Latino!!Black or African American alone",
    "!!Not Hispanic or Latino!!Asian alone",
    "!!Not Hispanic or Latino!!American Indian and Alaska Native alone",
    "!!Not Hispanic or Latino!!Native Hawaiian and Other Pacific Islander alone",
    "!!Not Hispanic or Latino!!Some Other Race alone",
    "!!Not Hispanic or Latino!!Two or More Races",
], strict=True))
DP05_CVAP = "Estimate!!CITIZEN, VOTING AGE POPULATION!!Citizen, 18 and over population"

DP02_EDU = "Estimate!!EDUCATIONAL ATTAINMENT!!Population 25 years and over"
DP02_EDU_ROWS = dict(zip(C.EDUCATION, [
    "Less than 9th grade", "9th to 12th grade, no diploma", "High school graduate (includes equivalency)",
    "Some college, no degree", "Associate's degree", "Bachelor's degree", "Graduate or professional degree",
], strict=True))
DP02_MARITAL = {"Male": "Estimate!!MARITAL STATUS!!Males 15 years and over",
                "Female": "Estimate!!MARITAL STATUS!!Females 15 years and over"}
DP02_MARITAL_ROWS = dict(zip(C.MARITAL, [
    "Never married", "Now married, except separated", "Separated", "Widowed", "Divorced"], strict=True))
DP02_HOUSEHOLDS = "Estimate!!HOUSEHOLDS BY TYPE!!Total households"

DP03_16 = "Estimate!!EMPLOYMENT STATUS!!Population 16 years and over"
DP03_EMPLOYMENT_ROWS = dict(zip(C.EMPLOYMENT, [
    "!!In labor force!!Civilian labor force!!Employed", "!!In labor force!!Civilian labor force!!Unemployed",
    "!!In labor force!!Armed Forces", "!!Not in labor force"], strict=True))
DP03_FEMALE_16 = "Estimate!!EMPLOYMENT STATUS!!Females 16 years and over"
DP03_CIV_EMPLOYED = "Estimate!!OCCUPATION!!Civilian employed population 16 years and over"
DP03_INCOME = "Estimate!!INCOME AND BENEFITS (IN 2023 INFLATION-ADJUSTED DOLLARS)!!Total households"
DP03_INCOME_ROWS = dict(zip(C.INCOME_BRACKETS, [
    "Less than $10,000", "$10,000 to $14,999", "$15,000 to $24,999", "$25,000 to $34,999",
    "$35,000 to $49,999", "$50,000 to $74,999", "$75,000 to $99,999", "$100,000 to $149,999",
    "$150,000 to $199,999", "$200,000 or more"], strict=True))

S2401_ROOT = "Civilian employed population 16 years and over"

MARGIN_COLUMNS = ["sex", "age", "race_eth", "race", "education", "marital", "employment", "income", "occupation"]


class Profile:
    """One raw profile file: label -> number (first occurrence; DP05 repeats some universe rows)."""

    def __init__(self, path: Path):
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        if list(raw.columns) != ["Label", "Value"]:
            raise ValueError(f"{path}: expected columns Label,Value; got {list(raw.columns)}")
        raw = raw[~raw["Label"].str.startswith("Annotation of ")]
        raw = raw.drop_duplicates("Label", keep="first")
        self.path = path
        self.values = dict(zip(raw["Label"], pd.to_numeric(raw["Value"], errors="coerce"), strict=True))

    def get(self, label: str) -> float:
        try:
            value = self.values[label]
        except KeyError:
            raise KeyError(f"{self.path.name}: no row {label!r}") from None
        if not np.isfinite(value) or value in SENTINELS:
            raise ValueError(f"{self.path.name}: row {label!r} is {value} ({SENTINELS.get(value, 'not a number')})")
        return float(value)

    def get_or_nan(self, label: str) -> float:
        value = self.values.get(label, np.nan)
        return np.nan if value in SENTINELS else float(value)


def _rows(state, table, universe, margin, cells, moe=None):
    out = []
    for key, value in cells.items():
        row = {"state": state, "table": table, "universe": universe, "margin": margin}
        variables = margin.split(":")
        key = key if isinstance(key, tuple) else (key,)
        row.update(dict(zip(variables, key, strict=True)))
        row["estimate"] = value
        row["moe"] = np.nan if moe is None else moe[key if len(key) > 1 else key[0]]
        out.append(row)
    return out


def _check(cond: bool, message: str, problems: list[str]) -> None:
    if not cond:
        problems.append(message)


def dp05(state: str, p: Profile, problems: list[str]):
    total = p.get(DP05_TOTAL)
    adult = p.get(DP05_TOTAL + "!!18 years and over")
    over16 = p.get(DP05_TOTAL + "!!16 years and over")
    age_25_plus = {lab: p.get(f"{DP05_TOTAL}!!{lab}") for lab in DP05_AGE_25_PLUS}
    age = {
        "Under 16": total - over16,
        "16-17": over16 - adult,
        "18-24": adult - sum(age_25_plus.values()),
        "25-34": age_25_plus["25 to 34 years"],
        "35-44": age_25_plus["35 to 44 years"],
        "45-54": age_25_plus["45 to 54 years"],
        "55-64": age_25_plus["55 to 59 years"] + age_25_plus["60 to 64 years"],
        "65+": age_25_plus["65 to 74 years"] + age_25_plus["75 to 84 years"] + age_25_plus["85 years and over"],
    }
    _check(age["Under 16"] + age["16-17"] == p.get(DP05_TOTAL + "!!Under 18 years"),
           f"{state} DP05: total - 18+ != 'Under 18 years'", problems)
    _check(age["65+"] == p.get(DP05_TOTAL + "!!65 years and over"), f"{state} DP05: 65+ rows != '65 years and over'", problems)
    _check(min(age.values()) >= 0, f"{state} DP05: a derived age group is negative: {age}", problems)
    sex_total = {s: p.get(f"{DP05_TOTAL}!!{s}") for s in C.SEX}
    sex_adult = {s: p.get(f"{DP05_TOTAL}!!18 years and over!!{s}") for s in C.SEX}
    race = {k: p.get(DP05_RACE + v) for k, v in DP05_RACE_ROWS.items()}
    race_eth = {k: p.get(DP05_HISP + v) for k, v in DP05_HISP_ROWS.items()}
    for name, cells, ref in (("sex", sex_total, total), ("18+ sex", sex_adult, adult), ("race", race, total),
                             ("race_eth", race_eth, total)):
        _check(sum(cells.values()) == ref, f"{state} DP05: {name} sums to {sum(cells.values())}, not {ref}", problems)
    rows = (
        _rows(state, "DP05", "total", "sex", sex_total)
        + _rows(state, "DP05", "adult", "sex", sex_adult)
        + _rows(state, "DP05", "total", "age", age)
        + _rows(state, "DP05", "total", "race", race)
        + _rows(state, "DP05", "total", "race_eth", race_eth)
    )
    universes = [
        ("DP05", "total", "Total", total), *[("DP05", "total", s, v) for s, v in sex_total.items()],
        ("DP05", "adult", "Total", adult), *[("DP05", "adult", s, v) for s, v in sex_adult.items()],
        ("DP05", "16+", "Total", over16),
        ("DP05", "citizen_adult", "Total", p.get(DP05_CVAP)),
        *[("DP05", "citizen_adult", s, p.get(f"{DP05_CVAP}!!{s}")) for s in C.SEX],
    ]
    return rows, universes


def dp02(state: str, p: Profile, problems: list[str]):
    over25 = p.get(DP02_EDU)
    education = {k: p.get(f"{DP02_EDU}!!{v}") for k, v in DP02_EDU_ROWS.items()}
    _check(sum(education.values()) == over25, f"{state} DP02: education sums to {sum(education.values())}, not {over25}", problems)
    marital = {}
    universes = [("DP02", "25+", "Total", over25), ("DP02", "households", "Total", p.get(DP02_HOUSEHOLDS))]
    for sex, base in DP02_MARITAL.items():
        n = p.get(base)
        cells = {(sex, k): p.get(f"{base}!!{v}") for k, v in DP02_MARITAL_ROWS.items()}
        _check(sum(cells.values()) == n, f"{state} DP02: marital status of {sex} sums to {sum(cells.values())}, not {n}", problems)
        marital.update(cells)
        universes.append(("DP02", "15+", sex, n))
    rows = _rows(state, "DP02", "25+", "education", education) + _rows(state, "DP02", "15+", "sex:marital", marital)
    return rows, universes


def dp03(state: str, p: Profile, problems: list[str]):
    over16 = p.get(DP03_16)
    employment = {k: p.get(DP03_16 + v) for k, v in DP03_EMPLOYMENT_ROWS.items()}
    _check(sum(employment.values()) == over16, f"{state} DP03: employment sums to {sum(employment.values())}, not {over16}", problems)
    female16 = p.get(DP03_FEMALE_16)
    sex16 = {"Male": over16 - female16, "Female": female16}
    households = p.get(DP03_INCOME)
    income = {k: p.get(f"{DP03_INCOME}!!{v}") for k, v in DP03_INCOME_ROWS.items()}
    _check(sum(income.values()) == households, f"{state} DP03: income sums to {sum(income.values())}, not {households}", problems)
    rows = (
        _rows(state, "DP03", "16+", "employment", employment)
        + _rows(state, "DP03", "16+", "sex", sex16)
        + _rows(state, "DP03", "households", "income", income)
    )
    universes = [
        ("DP03", "16+", "Total", over16), ("DP03", "16+", "Female", female16),
        ("DP03", "civilian_employed", "Total", p.get(DP03_CIV_EMPLOYED)),
        ("DP03", "civilian_employed", "Female",
         p.get("Estimate!!EMPLOYMENT STATUS!!Females 16 years and over!!In labor force!!Civilian labor force!!Employed")),
        ("DP03", "households", "Total", households),
    ]
    return rows, universes


def s2401(state: str, p: Profile, problems: list[str]):
    """Occupation x sex with MOE: the full hierarchy (detail table) and the major groups (margin)."""
    detail = []
    for label in p.values:
        parts = label.split("!!")
        if len(parts) < 3 or parts[0] not in ("Total", "Male", "Female") or parts[1] != "Estimate":
            continue
        path = parts[2:]
        moe_label = "!!".join([parts[0], "Margin of Error", *path])
        level = 0 if path == [S2401_ROOT] else len(path)
        names = [None, None, None] if level == 0 else [s.removesuffix(" occupations") for s in path] + [None] * (3 - len(path))
        detail.append({
            "state": state, "sex": parts[0], "level": level,
            "major_group": names[0], "group": names[1], "detail": names[2],
            "estimate": p.get(label), "moe": p.get_or_nan(moe_label),
        })
    detail = pd.DataFrame(detail)
    majors = detail[(detail["level"] == 1) & detail["sex"].isin(C.SEX)]
    _check(sorted(majors["major_group"].unique()) == sorted(C.OCCUPATION_GROUPS),
           f"{state} S2401: major groups {sorted(majors['major_group'].unique())}", problems)
    roots = detail[detail["level"] == 0].set_index("sex")
    for sex in ("Total", *C.SEX):
        s = detail[(detail["level"] == 1) & (detail["sex"] == sex)]["estimate"].sum()
        _check(s == roots.loc[sex, "estimate"], f"{state} S2401: {sex} major groups sum to {s}, not {roots.loc[sex, 'estimate']}", problems)
    cells = {(r.sex, r.major_group): r.estimate for r in majors.itertuples()}
    moe = {(r.sex, r.major_group): r.moe for r in majors.itertuples()}
    rows = _rows(state, "S2401", "civilian_employed", "sex:occupation", cells, moe)
    universes = [("S2401", "civilian_employed", sex, roots.loc[sex, "estimate"], roots.loc[sex, "moe"])
                 for sex in ("Total", *C.SEX)]
    return rows, universes, detail


def s2301(state: str, p: Profile) -> pd.DataFrame:
    """Employment status rates by characteristic, with MOE; rates are percentages."""
    measures = {"Total": "population", "Labor Force Participation Rate": "labor_force_participation_rate",
                "Employment/Population Ratio": "employment_population_ratio", "Unemployment rate": "unemployment_rate"}
    records: dict[str, dict] = {}
    for label in p.values:
        parts = label.split("!!")
        if parts[0] not in measures or len(parts) < 3:
            continue
        characteristic = " | ".join(parts[2:])
        column = measures[parts[0]] + ("_moe" if parts[1] == "Margin of Error" else "")
        records.setdefault(characteristic, {"state": state, "characteristic": characteristic})[column] = p.get_or_nan(label)
    frame = pd.DataFrame(list(records.values()))
    columns = ["state", "characteristic"] + [m + suffix for m in measures.values() for suffix in ("", "_moe")]
    return frame.reindex(columns=columns)


def curate(acs_dir: Path, states: list[str]) -> tuple[dict[str, pd.DataFrame], list[str]]:
    problems: list[str] = []
    margins, universes, details, rates = [], [], [], []
    for st in states:
        lo = st.lower()
        r5, u5 = dp05(st, Profile(acs_dir / "DP05" / "raw_data" / f"{lo}_sex_race_age.csv"), problems)
        r2, u2 = dp02(st, Profile(acs_dir / "DP02" / "raw_data" / f"{lo}_dp02.csv"), problems)
        r3, u3 = dp03(st, Profile(acs_dir / "DP03" / "raw_data" / f"{lo}_dp03.csv"), problems)
        r24, u24, detail = s2401(st, Profile(acs_dir / "s2401" / "raw_data" / f"{lo}_s2401.csv"), problems)
        rates.append(s2301(st, Profile(acs_dir / "s2301" / "raw_data" / f"{lo}_s2301.csv")))
        margins += r5 + r2 + r3 + r24
        universes += [(st, *u, np.nan) if len(u) == 4 else (st, *u) for u in u5 + u2 + u3 + u24]
        details.append(detail)
    margin_frame = pd.DataFrame(margins).reindex(
        columns=["state", "table", "universe", "margin", *MARGIN_COLUMNS, "estimate", "moe"])
    universe_frame = pd.DataFrame(universes, columns=["state", "table", "universe", "sex", "estimate", "moe"])
    # Cross-table identities the profiles should satisfy exactly.
    u = universe_frame.set_index(["state", "table", "universe", "sex"])["estimate"]
    for st in states:
        _check(u[st, "DP05", "16+", "Total"] == u[st, "DP03", "16+", "Total"], f"{st}: DP05 16+ != DP03 16+", problems)
        _check(u[st, "DP02", "households", "Total"] == u[st, "DP03", "households", "Total"], f"{st}: DP02 households != DP03", problems)
        _check(u[st, "DP03", "civilian_employed", "Total"] == u[st, "S2401", "civilian_employed", "Total"],
               f"{st}: DP03 civilian employed != S2401", problems)
        _check(u[st, "DP03", "civilian_employed", "Female"] == u[st, "S2401", "civilian_employed", "Female"],
               f"{st}: DP03 female civilian employed != S2401", problems)
        age = margin_frame[(margin_frame.state == st) & (margin_frame.margin == "age")].set_index("age")["estimate"]
        _check(age[list(C.AGE_GROUPS_BY_UNIVERSE["25+"])].sum() == u[st, "DP02", "25+", "Total"],
               f"{st}: DP05 25+ age rows != DP02 population 25+", problems)
    tables = {
        "acs2023_state_margins.csv.gz": margin_frame,
        "acs2023_state_universes.csv.gz": universe_frame,
        "acs2023_state_occupations.csv.gz": pd.concat(details, ignore_index=True),
        "acs2023_state_employment_rates.csv.gz": pd.concat(rates, ignore_index=True),
    }
    return tables, problems
