"""Hand labels of the contradiction-detector corpus (written by reading each sentence; no detector was run).

Key: ``<persona file stem>#<sentence index>`` (sentences as split by ``build_consistency_corpus.py``).
Value: space-separated ``attribute=value`` for every attribute the sentence STATES about the persona,
with a trailing ``!`` when the statement contradicts the census value the corpus pairs it with.
A sentence of a part-A persona that is absent from ``PART_A`` states nothing. Attributes: age, sex,
hisp (Hispanic origin), race, mar (marital status), edu (education), emp (employment).

Labelling rules (also in tests/data/consistency_corpus.README.md):

* "States" = a reader learns the persona's CURRENT value from the sentence's own words, reading
  "she / he / you / this individual / the persona's name" as the persona. Hedged statements
  ("likely", "may", "might", "possibly", "assumed") state nothing. Statements about other people
  (her husband's age, his wife's job) state nothing about the persona, except what they imply
  directly ("her husband" -> married; "her late husband" -> widowed).
* Sex is labelled only from explicit words (woman, male, mother, matriarch ...), never from
  pronouns alone: the detector's pronoun rule is a whole-text rule, scored separately.
* Education is labelled as the reader understands it: "a high school graduate", "has a high school
  diploma" present the persona's education level as high school (hs); "holds an Associate's degree"
  -> assoc; "some college, no degree" -> sc; "did not pursue higher education" -> lths,hs.
* Contradiction (!): the stated value and the census value cannot both be true (the census value
  of the corpus row; for part B an independent census draw, see the README).
"""

# Part A: every sentence of the first 23 California records that carry their census attributes.
PART_A = {
    # CA_persona_0: 65-74, Female, Hispanic (Mexican), Divorced, Bachelor's
    "CA_persona_0#00": "age=68 sex=F hisp=Y",
    "CA_persona_0#01": "hisp=Y sex=F",
    "CA_persona_0#05": "edu=bach",
    "CA_persona_0#06": "mar=divorced",
    "CA_persona_0#08": "sex=F",
    "CA_persona_0#13": "hisp=Y",
    # CA_persona_115: 45-54, Female, Asian (Chinese), married, Bachelor's
    "CA_persona_115#00": "age=45-54 sex=F race=asian mar=married",
    "CA_persona_115#01": "edu=bach",
    "CA_persona_115#04": "mar=married",
    "CA_persona_115#12": "race=asian",
    # CA_persona_128: 25-34, Male, Some Other Race, Never married, High school graduate
    "CA_persona_128#00": "age=25-34 sex=M race=asian!",
    "CA_persona_128#01": "edu=hs",
    # CA_persona_132: 45-54, Male, Hispanic, married, High school graduate
    "CA_persona_132#00": "age=45-54 sex=M hisp=Y edu=hs",
    "CA_persona_132#01": "mar=married",
    "CA_persona_132#03": "edu=hs",
    "CA_persona_132#08": "edu=hs",
    # CA_persona_135: 45-54, Female, White, Separated, Some college
    "CA_persona_135#00": "age=45-54 race=white sex=F",
    "CA_persona_135#01": "mar=separated edu=sc",
    "CA_persona_135#09": "mar=separated",
    # CA_persona_143: 45-54, Female, Hispanic, Married, Associate's
    "CA_persona_143#00": "age=45-54 sex=F hisp=Y mar=married",
    "CA_persona_143#01": "edu=assoc",
    "CA_persona_143#07": "edu=assoc",
    "CA_persona_143#15": "hisp=Y",
    # CA_persona_157: 45-54, Female, White and Some Other Race + Hispanic, Married, Bachelor's
    "CA_persona_157#00": "age=45-54 mar=married sex=F",
    "CA_persona_157#01": "race=white+other hisp=Y",
    "CA_persona_157#02": "edu=bach",
    "CA_persona_157#04": "mar=married",
    # CA_persona_175: 35-44, Female, Hispanic, married, High school graduate
    "CA_persona_175#00": "age=35-44 sex=F hisp=Y mar=married",
    "CA_persona_175#01": "edu=hs",
    "CA_persona_175#02": "mar=married",
    # CA_persona_207: 35-44, Female, White, Never married, High school graduate
    "CA_persona_207#00": "age=35-44 sex=F race=asian!",
    "CA_persona_207#01": "edu=hs",
    "CA_persona_207#04": "mar=notmarried",
    # CA_persona_216: 65-74, Female, Asian (Vietnamese), Now married except separated, Some college
    "CA_persona_216#00": "age=65-74 sex=F race=asian",
    "CA_persona_216#01": "mar=separated!",
    "CA_persona_216#02": "edu=sc",
    "CA_persona_216#04": "race=asian sex=F",
    "CA_persona_216#09": "mar=notmarried!",
    "CA_persona_216#11": "race=asian",
    # CA_persona_218: 25-34, Male, White, Now married except separated, Some college
    "CA_persona_218#00": "age=25-34 sex=M race=white",
    "CA_persona_218#01": "mar=separated!",
    "CA_persona_218#03": "edu=sc",
    "CA_persona_218#04": "race=white",
    "CA_persona_218#08": "mar=separated!",
    # CA_persona_23: 45-54, Female, White, Never married, Graduate degree
    "CA_persona_23#00": "age=45-54 race=asian+nhpi! sex=F",
    "CA_persona_23#01": "edu=grad",
    "CA_persona_23#03": "mar=never",
    # CA_persona_233: 60-64, Female, Some Other Race, married, High school graduate
    "CA_persona_233#00": "age=60-64 race=asian+nhpi! sex=F mar=married",
    "CA_persona_233#01": "edu=hs",
    "CA_persona_233#03": "edu=lths+hs",
    # CA_persona_244: 55-59, Female, Hispanic, Never married, Bachelor's
    "CA_persona_244#00": "age=55-59 sex=F hisp=Y",
    "CA_persona_244#01": "edu=bach",
    "CA_persona_244#05": "mar=never",
    # CA_persona_251: 25-34, Male, White (non-Hispanic), married, Associate's
    "CA_persona_251#00": "age=25-34 sex=M race=white",
    "CA_persona_251#02": "mar=married",
    "CA_persona_251#03": "edu=assoc",
    # CA_persona_256: 65-74, Female, Hispanic, married, High school graduate
    "CA_persona_256#00": "age=65-74 sex=F hisp=Y",
    "CA_persona_256#02": "edu=hs",
    # CA_persona_268: 65-74, Female, Hispanic, married, High school graduate
    "CA_persona_268#00": "age=65-74 sex=F hisp=Y",
    "CA_persona_268#01": "edu=hs",
    "CA_persona_268#03": "mar=married",
    # CA_persona_269: 25-34, Female, White, married, Graduate degree
    "CA_persona_269#00": "age=25-34 mar=married race=white sex=F",
    "CA_persona_269#01": "edu=grad",
    "CA_persona_269#02": "race=asian+nhpi!",
    "CA_persona_269#05": "mar=married",
    # CA_persona_278: 45-54, Female, White, Widowed, Graduate degree
    "CA_persona_278#00": "age=45-54 race=white sex=F edu=grad",
    "CA_persona_278#01": "mar=widowed sex=F",
    "CA_persona_278#04": "mar=widowed sex=F",
    # CA_persona_280: 25-34, Male, White, married, Some college
    "CA_persona_280#00": "age=29 mar=married sex=M",
    "CA_persona_280#01": "mar=married",
    "CA_persona_280#02": "edu=sc",
    # CA_persona_283: 25-34, Female, Hispanic, married, High school graduate
    "CA_persona_283#00": "age=25-34 sex=F hisp=Y",
    "CA_persona_283#02": "edu=hs",
    "CA_persona_283#03": "mar=married",
    "CA_persona_283#06": "edu=hs",
    "CA_persona_283#09": "hisp=Y sex=F",
    "CA_persona_283#12": "mar=married",
    # CA_persona_29: 18-19, Male, Asian, Never married, Some college or associate's
    "CA_persona_29#00": "age=18-19 sex=M race=asian",
    "CA_persona_29#01": "edu=hs+sc",
    # CA_persona_295: 75-84, Male, Black, Never married, Graduate degree
    "CA_persona_295#00": "age=75-84 race=black sex=M",
    "CA_persona_295#02": "edu=grad",
}

# Part B: sentences chosen by keyword from the 1,919 records without census attributes, each paired
# with the census record of the same file name in the paper's Meta-persona file (an independent draw).
PART_B = {
    "WY_persona_872#01": "mar=married! edu=assoc!",
    "WY_persona_744#04": "edu=lths+hs",
    "WY_persona_857#02": "edu=hs!",
    "CA_persona_516#03": "edu=lths!",
    "WY_persona_909#06": "edu=sc mar=widowed!",
    "WY_persona_835#04": "edu=hs!",
    "WY_persona_772#04": "edu=sc",
    "CA_persona_79#07": "",
    "WY_persona_791#01": "edu=hs! mar=separated!",
    "WY_persona_635#12": "edu=bach+",
    "CA_persona_235#02": "edu=hs!",
    "WY_persona_48#03": "edu=hs",
    "CA_persona_206#01": "edu=hs!",
    "WY_persona_549#06": "edu=hs!",
    "CA_persona_928#02": "edu=lths!",
    "WY_persona_459#06": "edu=sc! emp=employed!",
    "WY_persona_567#03": "edu=sc!",
    "WY_persona_138#05": "edu=bach",
    "WY_persona_967#03": "edu=bach",
    "CA_persona_434#06": "edu=sc+!",
    "CA_persona_838#02": "edu=bach!",
    "WY_persona_568#03": "edu=hs!",
    "WY_persona_480#04": "edu=hs!",
    "CA_persona_666#03": "edu=hs!",
    "WY_persona_336#02": "edu=hs!",
    "WY_persona_738#03": "edu=grad!",
    "WY_persona_119#05": "edu=sc! mar=widowed!",
    "WY_persona_944#04": "emp=employed edu=lths+hs!",
    "WY_persona_576#02": "edu=hs! emp=employed",
    "WY_persona_15#04": "edu=hs!",
    "CA_persona_920#00": "age=35-44! sex=M! race=white edu=sc!",
    "WY_persona_948#11": "",
    "WY_persona_403#00": "age=68! sex=M! race=white",
    "WY_persona_182#00": "age=62! sex=F race=white mar=married!",
    "WY_persona_202#03": "edu=bach!",
    "WY_persona_591#00": "age=57! sex=F! race=aian+other! hisp=Y!",
    "WY_persona_93#05": "",
    "WY_persona_497#02": "mar=married!",
    "WY_persona_230#00": "age=57! sex=M race=white",
    "WY_persona_536#00": "age=28! sex=F race=white",
    "WY_persona_151#00": "age=69! sex=M race=white",
    "CA_persona_553#00": "age=20-24! sex=F hisp=Y!",
    "WY_persona_650#00": "age=57! sex=F race=white",
    "CA_persona_300#00": "age=25-34! mar=married race=white+other sex=F",
    "WY_persona_751#05": "",
    "CA_persona_48#00": "age=45-54! sex=M hisp=Y mar=married",
    "WY_persona_712#14": "mar=widowed!",
    "CA_persona_687#00": "age=25-34 sex=F race=nhpi",
    "WY_persona_527#01": "mar=notmarried!",
    "CA_persona_426#00": "age=35-44! sex=M! hisp=Y!",
    "CA_persona_16#00": "age=18-19! sex=M hisp=Y",
    "WY_persona_576#05": "",
    "CA_persona_214#00": "age=35-44 sex=F! race=asian!",
    "WY_persona_284#05": "mar=married!",
    "WY_persona_632#04": "edu=assoc!",
    "WY_persona_278#00": "age=62! sex=F! race=white",
    "CA_persona_21#12": "mar=married sex=F",
    "WY_persona_608#04": "mar=widowed",
    "WY_persona_555#10": "mar=widowed! sex=F",
    "WY_persona_871#06": "",
    "WY_persona_25#00": "age=39 sex=M race=white mar=married",
    "WY_persona_503#05": "mar=married",
    "WY_persona_722#02": "mar=never",
    "CA_persona_214#04": "mar=notmarried",
    "CA_persona_793#02": "mar=married!",
    "WY_persona_696#03": "mar=divorced",
    "WY_persona_222#02": "mar=never",
    "WY_persona_679#35": "mar=divorced!",
    "WY_persona_824#00": "age=69! sex=F hisp=Y!",
    "CA_persona_784#01": "mar=married!",
    "WY_persona_769#06": "mar=never",
    "WY_persona_122#01": "",
    "CA_persona_580#05": "edu=bach+! mar=divorced!",
    "CA_persona_453#06": "mar=married",
    "WY_persona_558#08": "mar=widowed! emp=nilf!",
    "WY_persona_408#21": "mar=married emp=nilf!",
    "CA_persona_308#02": "edu=grad!",
    "WY_persona_498#06": "emp=employed!",
    "WY_persona_946#05": "emp=nilf!",
    "WY_persona_332#10": "edu=nodegree emp=employed!",
    "CA_persona_110#06": "",
    "WY_persona_359#16": "mar=married!",
    "CA_persona_220#07": "",
    "CA_persona_151#03": "",
    "CA_persona_492#09": "",
    "CA_persona_490#09": "",
    "CA_persona_130#08": "",
    "WY_persona_45#24": "mar=married",
    "CA_persona_501#07": "",
    "CA_persona_373#08": "",
    "CA_persona_498#03": "",
    "WY_persona_844#04": "edu=hs+sc! emp=nilf!",
    "CA_persona_602#06": "",
    "CA_persona_873#09": "",
    "CA_persona_674#03": "",
    "CA_persona_430#12": "hisp=Y!",
    "CA_persona_864#01": "",
    "CA_persona_457#00": "age=20-24! sex=F! hisp=Y",
    "WY_persona_972#17": "race=aian! emp=nilf!",
    "CA_persona_21#00": "age=18-19! mar=married hisp=Y sex=F",
    "WY_persona_559#03": "race=white+multi",
    "CA_persona_22#00": "age=65-74! sex=M hisp=Y!",
    "WY_persona_660#04": "hisp=N",
    "WY_persona_424#01": "",
    "WY_persona_490#00": "age=29! sex=F race=white",
    "CA_persona_985#00": "age=20-24! sex=F hisp=Y!",
    "CA_persona_53#00": "age=25-34! sex=M! hisp=Y!",
    "WY_persona_7#03": "race=white hisp=N",
    "CA_persona_313#00": "age=65-74! sex=M hisp=Y",
    "CA_persona_648#14": "hisp=Y!",
    "WY_persona_879#12": "",
    "WY_persona_411#06": "edu=lths+hs!",
    "WY_persona_544#09": "",
    "WY_persona_110#04": "edu=nodegree emp=employed!",
    "WY_persona_650#02": "mar=married!",
    "WY_persona_369#05": "edu=sc!",
    "CA_persona_412#01": "mar=never!",
    "WY_persona_539#11": "",
    "WY_persona_751#02": "edu=hs!",
    "WY_persona_582#17": "mar=never",
    "WY_persona_881#02": "",
    "WY_persona_926#03": "edu=sc!",
    "CA_persona_441#06": "",
    "WY_persona_974#06": "edu=lths!",
    "WY_persona_409#11": "edu=sc",
}
