"""The one definition of every category label used by the shipped tables.

Margins, seeds and survey subsets all use these exact strings, so a seed
column can be matched to a margin without a mapping. Coarser schemes (for
surveys that cannot tell the finer levels apart) are defined as explicit
maps from the finest ACS level, so every coarse margin is a sum of fine cells.
"""

from __future__ import annotations

from types import MappingProxyType

# ---------------------------------------------------------------- regions
#: Census region and division names by code (as in the PEP file's REGION / DIVISION columns).
REGIONS = MappingProxyType({1: "Northeast", 2: "Midwest", 3: "South", 4: "West"})
DIVISIONS = MappingProxyType(
    {
        1: "New England",
        2: "Middle Atlantic",
        3: "East North Central",
        4: "West North Central",
        5: "South Atlantic",
        6: "East South Central",
        7: "West South Central",
        8: "Mountain",
        9: "Pacific",
    }
)

#: postal code -> (name, FIPS code, region code, division code); 50 states + DC.
STATES = MappingProxyType(
    {
        "AL": ("Alabama", "01", 3, 6),
        "AK": ("Alaska", "02", 4, 9),
        "AZ": ("Arizona", "04", 4, 8),
        "AR": ("Arkansas", "05", 3, 7),
        "CA": ("California", "06", 4, 9),
        "CO": ("Colorado", "08", 4, 8),
        "CT": ("Connecticut", "09", 1, 1),
        "DE": ("Delaware", "10", 3, 5),
        "DC": ("District of Columbia", "11", 3, 5),
        "FL": ("Florida", "12", 3, 5),
        "GA": ("Georgia", "13", 3, 5),
        "HI": ("Hawaii", "15", 4, 9),
        "ID": ("Idaho", "16", 4, 8),
        "IL": ("Illinois", "17", 2, 3),
        "IN": ("Indiana", "18", 2, 3),
        "IA": ("Iowa", "19", 2, 4),
        "KS": ("Kansas", "20", 2, 4),
        "KY": ("Kentucky", "21", 3, 6),
        "LA": ("Louisiana", "22", 3, 7),
        "ME": ("Maine", "23", 1, 1),
        "MD": ("Maryland", "24", 3, 5),
        "MA": ("Massachusetts", "25", 1, 1),
        "MI": ("Michigan", "26", 2, 3),
        "MN": ("Minnesota", "27", 2, 4),
        "MS": ("Mississippi", "28", 3, 6),
        "MO": ("Missouri", "29", 2, 4),
        "MT": ("Montana", "30", 4, 8),
        "NE": ("Nebraska", "31", 2, 4),
        "NV": ("Nevada", "32", 4, 8),
        "NH": ("New Hampshire", "33", 1, 1),
        "NJ": ("New Jersey", "34", 1, 2),
        "NM": ("New Mexico", "35", 4, 8),
        "NY": ("New York", "36", 1, 2),
        "NC": ("North Carolina", "37", 3, 5),
        "ND": ("North Dakota", "38", 2, 4),
        "OH": ("Ohio", "39", 2, 3),
        "OK": ("Oklahoma", "40", 3, 7),
        "OR": ("Oregon", "41", 4, 9),
        "PA": ("Pennsylvania", "42", 1, 2),
        "RI": ("Rhode Island", "44", 1, 1),
        "SC": ("South Carolina", "45", 3, 5),
        "SD": ("South Dakota", "46", 2, 4),
        "TN": ("Tennessee", "47", 3, 6),
        "TX": ("Texas", "48", 3, 7),
        "UT": ("Utah", "49", 4, 8),
        "VT": ("Vermont", "50", 1, 1),
        "VA": ("Virginia", "51", 3, 5),
        "WA": ("Washington", "53", 4, 9),
        "WV": ("West Virginia", "54", 3, 5),
        "WI": ("Wisconsin", "55", 2, 3),
        "WY": ("Wyoming", "56", 4, 8),
    }
)

#: States without an ACS 2023 state profile in the source snapshot.
NO_ACS_PROFILE = frozenset({"DC"})

# ------------------------------------------------------------ demographics
SEX = ("Male", "Female")

#: Adult age groups; each is a sum of whole DP05 age rows (18-24 = 18+ minus the 25+ rows).
AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
#: Lower bounds of AGE_GROUPS (the last group is open).
AGE_GROUP_LOWER = (18, 25, 35, 45, 55, 65)
#: Age groups of each person universe (the margin's categories depend on the universe).
AGE_GROUPS_BY_UNIVERSE = MappingProxyType(
    {
        "total": ("Under 18", *AGE_GROUPS),
        "adult": AGE_GROUPS,
        "16+": ("16-17", *AGE_GROUPS),
        "25+": AGE_GROUPS[1:],
    }
)

#: Hispanic origin x race (DP05 "HISPANIC OR LATINO AND RACE"): Hispanic of any race, then
#: non-Hispanic single races and non-Hispanic two or more races.
RACE_ETH = (
    "Hispanic",
    "White non-Hispanic",
    "Black non-Hispanic",
    "Asian non-Hispanic",
    "AIAN non-Hispanic",
    "NHPI non-Hispanic",
    "Other race non-Hispanic",
    "Two or more races non-Hispanic",
)
#: ANES race4 scheme.
RACE_ETH_4 = ("Hispanic", "White non-Hispanic", "Black non-Hispanic", "Other non-Hispanic")
RACE_ETH_TO_4 = MappingProxyType(
    {
        "Hispanic": "Hispanic",
        "White non-Hispanic": "White non-Hispanic",
        "Black non-Hispanic": "Black non-Hispanic",
        "Asian non-Hispanic": "Other non-Hispanic",
        "AIAN non-Hispanic": "Other non-Hispanic",
        "NHPI non-Hispanic": "Other non-Hispanic",
        "Other race non-Hispanic": "Other non-Hispanic",
        "Two or more races non-Hispanic": "Other non-Hispanic",
    }
)

#: Race regardless of Hispanic origin (DP05 "RACE": one race alone, or two or more races).
RACE = ("White", "Black", "AIAN", "Asian", "NHPI", "Other race", "Two or more races")
#: ACS 2012 seed (openintro acs12) scheme: white, black, asian, other.
RACE_4 = ("White", "Black", "Asian", "Other")
RACE_TO_4 = MappingProxyType(
    {
        "White": "White",
        "Black": "Black",
        "AIAN": "Other",
        "Asian": "Asian",
        "NHPI": "Other",
        "Other race": "Other",
        "Two or more races": "Other",
    }
)
#: GSS scheme: white, black, other.
RACE_3 = ("White", "Black", "Other")
RACE_TO_3 = MappingProxyType({k: (v if v in RACE_3 else "Other") for k, v in RACE_TO_4.items()})

#: DP02 educational attainment, population 25 years and over.
EDUCATION = (
    "Less than 9th grade",
    "9th-12th grade, no diploma",
    "High school graduate",
    "Some college, no degree",
    "Associate's degree",
    "Bachelor's degree",
    "Graduate or professional degree",
)
#: GSS `degree` scheme (its "high school" level includes some college without a degree).
EDUCATION_5 = (
    "Less than high school",
    "High school graduate or some college",
    "Associate's degree",
    "Bachelor's degree",
    "Graduate or professional degree",
)
#: ANES `educat` scheme (its level 5 "some college" includes associate-degree holders).
EDUCATION_4 = (
    "Less than high school",
    "High school graduate, some college or associate's",
    "Bachelor's degree",
    "Graduate or professional degree",
)
#: ACS 2012 seed scheme: acs12 "hs or lower" holds everyone without a college degree.
EDUCATION_3 = ("No college degree", "Associate's or bachelor's degree", "Graduate or professional degree")


def _collapse(fine: tuple[str, ...], coarse: tuple[str, ...], positions: tuple[int, ...]) -> MappingProxyType:
    return MappingProxyType({f: coarse[i] for f, i in zip(fine, positions, strict=True)})


EDUCATION_TO_5 = _collapse(EDUCATION, EDUCATION_5, (0, 0, 1, 1, 2, 3, 4))
EDUCATION_TO_4 = _collapse(EDUCATION, EDUCATION_4, (0, 0, 1, 1, 1, 2, 3))
EDUCATION_TO_3 = _collapse(EDUCATION, EDUCATION_3, (0, 0, 0, 0, 1, 1, 2))

#: DP03 employment status, population 16 years and over ("Employed" = civilian employed).
EMPLOYMENT = ("Employed", "Unemployed", "Armed Forces", "Not in labor force")
#: For surveys that do not separate the Armed Forces.
EMPLOYMENT_3 = ("Employed (incl. Armed Forces)", "Unemployed", "Not in labor force")
EMPLOYMENT_TO_3 = MappingProxyType(
    {
        "Employed": "Employed (incl. Armed Forces)",
        "Unemployed": "Unemployed",
        "Armed Forces": "Employed (incl. Armed Forces)",
        "Not in labor force": "Not in labor force",
    }
)

#: DP02 marital status, population 15 years and over ("Married" = now married, except separated).
MARITAL = ("Never married", "Married", "Separated", "Widowed", "Divorced")
MARITAL_2 = ("Married", "Not married")
MARITAL_TO_2 = MappingProxyType({k: ("Married" if k == "Married" else "Not married") for k in MARITAL})

#: DP03 household income in the past 12 months (2023 dollars); a HOUSEHOLD attribute.
#: Brackets are [lower, upper) in dollars.
INCOME_BRACKETS = (
    "Under $10k",
    "$10k-$15k",
    "$15k-$25k",
    "$25k-$35k",
    "$35k-$50k",
    "$50k-$75k",
    "$75k-$100k",
    "$100k-$150k",
    "$150k-$200k",
    "$200k+",
)
INCOME_BRACKET_LOWER = (0, 10_000, 15_000, 25_000, 35_000, 50_000, 75_000, 100_000, 150_000, 200_000)

#: S2401 / DP03 major occupation groups of the civilian employed 16+, plus a category for everyone
#: else so that occupation can be a margin over a person universe.
OCCUPATION_GROUPS = (
    "Management, business, science, and arts",
    "Service",
    "Sales and office",
    "Natural resources, construction, and maintenance",
    "Production, transportation, and material moving",
)
NOT_CIVILIAN_EMPLOYED = "Not civilian employed"
OCCUPATION = (*OCCUPATION_GROUPS, NOT_CIVILIAN_EMPLOYED)

# ----------------------------------------------------------- attitudes
PARTY_ID_7 = (
    "Strong Democrat",
    "Weak Democrat",
    "Independent, lean Democrat",
    "Independent",
    "Independent, lean Republican",
    "Weak Republican",
    "Strong Republican",
)
#: Leaners counted with their party (the usual political-science collapse of the 7-point scale).
PARTY_3 = ("Democrat", "Independent", "Republican")
PARTY_ID_7_TO_3 = _collapse(PARTY_ID_7, PARTY_3, (0, 0, 0, 1, 2, 2, 2))

IDEOLOGY_7 = (
    "Extremely liberal",
    "Liberal",
    "Slightly liberal",
    "Moderate",
    "Slightly conservative",
    "Conservative",
    "Extremely conservative",
)
IDEOLOGY_3 = ("Liberal", "Moderate", "Conservative")
IDEOLOGY_7_TO_3 = _collapse(IDEOLOGY_7, IDEOLOGY_3, (0, 0, 0, 1, 2, 2, 2))

# The fixed vocabularies of the LLM-written Subjective tier (personacal.generate's schemas use
# these), so that a tier's answers can be raked on survey targets without mapping free text.
IDEOLOGY_5 = ("very liberal", "liberal", "moderate", "conservative", "very conservative")
PARTY_ID_4 = ("Democrat", "Republican", "Independent", "Other")
RELIGIOSITY_3 = ("not religious", "somewhat religious", "very religious")
#: Recalled vote in the 2020 presidential election (the Subjective tier's vote_2020, and the
#: categories of personacal.data.past_vote_targets(2020)).
VOTE_2020 = ("Biden", "Trump", "Other", "Did not vote")

#: GSS national-spending items, recoded from -1/0/1.
SPENDING = ("Too little", "About right", "Too much")

# ------------------------------------------------------------ registry
#: Variable name (as used in margins and seed columns) -> its categories in order.
CATEGORIES = MappingProxyType(
    {
        "sex": SEX,
        "age": AGE_GROUPS,
        "race_eth": RACE_ETH,
        "race_eth4": RACE_ETH_4,
        "race": RACE,
        "race4": RACE_4,
        "race3": RACE_3,
        "education": EDUCATION,
        "education5": EDUCATION_5,
        "education4": EDUCATION_4,
        "education3": EDUCATION_3,
        "employment": EMPLOYMENT,
        "employment3": EMPLOYMENT_3,
        "marital": MARITAL,
        "marital2": MARITAL_2,
        "income": INCOME_BRACKETS,
        "occupation": OCCUPATION,
        "party_id7": PARTY_ID_7,
        "party3": PARTY_3,
        "ideology7": IDEOLOGY_7,
        "ideology3": IDEOLOGY_3,
        "ideology5": IDEOLOGY_5,
        "party_id4": PARTY_ID_4,
        "religiosity3": RELIGIOSITY_3,
        "vote_2020": VOTE_2020,
        "region": tuple(REGIONS.values()),
    }
)

#: Coarse variable -> (fine variable, map fine label -> coarse label).
COARSENINGS = MappingProxyType(
    {
        "race_eth4": ("race_eth", RACE_ETH_TO_4),
        "race4": ("race", RACE_TO_4),
        "race3": ("race", RACE_TO_3),
        "education5": ("education", EDUCATION_TO_5),
        "education4": ("education", EDUCATION_TO_4),
        "education3": ("education", EDUCATION_TO_3),
        "employment3": ("employment", EMPLOYMENT_TO_3),
        "marital2": ("marital", MARITAL_TO_2),
    }
)
