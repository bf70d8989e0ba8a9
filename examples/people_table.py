"""Write a table shaped like a real user's: people, with the columns such tables have.

A two-year re-offence table in the shape of public recidivism data: a row id, a
person's name, a screening date, a free-text charge description, age, prior counts,
sex and race, where two race groups are tiny (30 and 60 people in all). Whether a person
re-offends depends on priors, age, the charge and (through the data's history) race.
Nothing in tailorml was tuned to it; `tests/test_real_table.py` and the README's
"Bring your own table" walk-through use it.

    python examples/people_table.py DIR     # writes DIR/people_train.csv, DIR/people_test.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

FIRST = ["miguel", "jane", "darnell", "maria", "kevin", "lisa", "tyrone", "ana", "john",
         "keisha", "luis", "emily", "andre", "rosa", "michael", "tanya", "carlos", "amy",
         "jamal", "sara", "david", "nia", "jose", "kim", "robert", "latoya", "omar"]  # fmt: skip
LAST = ["hernandez", "smith", "washington", "garcia", "johnson", "nguyen", "brown",
        "williams", "davis", "martinez", "jackson", "lee", "thomas", "robinson", "walker",
        "young", "allen", "king", "wright", "scott", "torres", "hill", "green"]  # fmt: skip
OFFENCES = {"Battery": 0.35, "Grand Theft": 0.2, "Possession of Cannabis": -0.1,
            "Driving Under the Influence": -0.3, "Burglary": 0.4, "Petit Theft": 0.1,
            "Resisting Officer without Violence": 0.15, "Aggravated Assault": 0.25,
            "Driving While License Revoked": 0.05, "Possession of Cocaine": 0.3,
            "Tampering with Evidence": 0.0, "Trespass": 0.1}  # fmt: skip
QUALIFIERS = ["", " w/Prior Convict", " Over 20 Grams", " of Structure", " on Person",
              " in Dwelling", " Unoccupied", " Unarmed", " 2nd Degree", " 3rd Degree",
              " with Deadly Weapon", " Under 300"]  # fmt: skip
GROUPS = {"African-American": None, "Caucasian": None, "Asian": 30, "Native American": 60}


def people(rows: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """The whole table, ``rows`` people, in row-id order."""
    rng = np.random.default_rng(seed)
    small = sum(n for n in GROUPS.values() if n)
    race = np.array(["African-American", "Caucasian"] * ((rows - small) // 2 + 1))[: rows - small]
    race = np.concatenate([race, *[[g] * n for g, n in GROUPS.items() if n]])
    rng.shuffle(race)
    age = np.clip(rng.gamma(4.0, 8.0, rows) + 18, 18, 80).astype(int)
    priors = rng.poisson(np.where(race == "African-American", 3.5, 2.0))
    degree = rng.choice(["F", "M"], rows, p=[0.6, 0.4])
    offence = rng.choice(list(OFFENCES), rows)
    description = [o + rng.choice(QUALIFIERS) for o in offence]
    logit = (-1.2 + 0.35 * priors - 0.07 * (age - 35) + 0.5 * (degree == "F")
             + 2 * np.array([OFFENCES[o] for o in offence]) + 0.4 * (race == "African-American")
             + rng.normal(0, 0.3, rows))  # fmt: skip
    target = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    days = rng.integers(0, 730, rows)
    return pd.DataFrame({
        "id": np.arange(1, rows + 1),
        "name": [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rows)],
        "screening_date": (pd.Timestamp("2013-01-01") + pd.to_timedelta(days, "D")).strftime(
            "%Y-%m-%d"),
        "sex": rng.choice(["Male", "Female"], rows, p=[0.8, 0.2]),
        "age": age,
        "race": race,
        "juv_fel_count": rng.poisson(0.1, rows),
        "priors_count": priors,
        "c_charge_degree": degree,
        "c_charge_desc": description,
        "two_year_recid": target,
    })  # fmt: skip


def write(folder: Path, rows: int = 3_000, seed: int = 0) -> tuple[Path, Path]:
    """Three quarters of the people to ``people_train.csv``, the rest to ``people_test.csv``."""
    table = people(rows, seed)
    test = np.random.default_rng(seed + 1).random(len(table)) < 0.25
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "people_train.csv", folder / "people_test.csv"
    table[~test].to_csv(paths[0], index=False)
    table[test].to_csv(paths[1], index=False)
    return paths


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(f"wrote {path}")
