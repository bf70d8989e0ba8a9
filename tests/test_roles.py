"""Column roles: each rule on a table shaped like a real one (a recidivism table with ids,
names, contact details, charge descriptions, dates and a leak), overrides, the built-in
sets keeping their features, ``tailor init``'s comments and ``tailor match``'s record."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tailorml.config import Scenario, load_config, parse_config
from tailorml.data.readers import read_source
from tailorml.data.roles import ColumnOverride, ColumnRole, classify_columns
from tailorml.errors import ConfigError
from tailorml.match.prepare import prepare

ROWS = 2000
FIRST = [
    "miguel", "jane", "michael", "kevin", "sarah", "james", "maria", "david", "linda", "robert",
    "angela", "brian", "keisha", "carlos", "emily", "joseph", "tanya", "anthony", "jessica",
    "daniel", "latoya", "steven", "nicole", "marcus", "ashley", "jose", "patricia", "william",
    "andre", "monica", "christopher", "denise", "ryan", "gloria", "terrence", "wanda", "luis",
    "crystal", "eric", "tiffany",
]  # fmt: skip
LAST = [
    "hernandez", "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "wilson", "anderson", "taylor", "thomas", "moore", "jackson",
    "martin", "lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez",
    "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott", "torres",
    "nguyen", "hill", "flores", "green", "adams",
]  # fmt: skip
DEGREES = ["Felony", "Misdemeanor", "Aggravated", "Grand", "Petit", "Attempted", "Possession"]
OFFENSES = [
    "Battery", "Theft", "Assault", "Burglary", "Robbery", "Trespass", "Fraud", "Cocaine",
    "Cannabis", "Driving License Suspended", "Resist Officer", "Criminal Mischief",
    "Stalking", "Forgery", "Arson", "Tampering", "Uttering", "Reckless Driving",
    "Firearm", "Leaving Accident Scene",
]  # fmt: skip
SUFFIXES = [
    "w/Prior Convict", "in the 3rd Degree", "Under $300", "$300 - $5000", "w/Weapon",
    "2nd Degree", "On Victim 65+", "W/O Violence", "(Domestic)",
]  # fmt: skip
AREA_CODES = ["212", "305", "415", "617", "713", "312", "206", "404", "503", "602"]


def people(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """A recidivism table as a new user brings it: one row per person."""
    rng = np.random.default_rng(seed)
    first = rng.choice(FIRST, rows)
    last = rng.choice(LAST, rows)
    priors = rng.poisson(2.5, rows)
    age = rng.integers(18, 70, rows)
    risk = 0.35 * priors - 0.04 * (age - 35) + rng.normal(0, 1, rows)
    recid = (risk > np.median(risk)).astype(int)
    flipped = rng.random(rows) < 0.005
    days = rng.integers(0, 730, rows)
    charges = [
        f"{DEGREES[i % 7]} {OFFENSES[i % 20]} {SUFFIXES[i % 9]}" for i in rng.integers(0, 420, rows)
    ]
    return pd.DataFrame(
        {
            "id": np.arange(1, rows + 1),
            "name": [f"{f} {n}" for f, n in zip(first, last, strict=True)],
            "email": [
                f"{f}.{n}{i}@example.com" for i, (f, n) in enumerate(zip(first, last, strict=True))
            ],
            "phone": [
                f"({rng.choice(AREA_CODES)}) {rng.integers(200, 999)}-{rng.integers(0, 9999):04d}"
                for _ in range(rows)
            ],
            "c_charge_desc": charges,
            "county": "broward",
            "screening_date": [
                str(pd.Timestamp("2013-01-01") + pd.Timedelta(days=int(d)))[:10] for d in days
            ],
            "is_recid": np.where(flipped, 1 - recid, recid),  # the outcome, recorded later
            "age": age,
            "income": np.round(rng.lognormal(10, 0.6, rows), 2),
            "sex": rng.choice(["Male", "Female"], rows, p=[0.8, 0.2]),
            "race": rng.choice(
                ["African-American", "Caucasian", "Hispanic", "Other", "Asian", "Native American"],
                rows,
                p=[0.51, 0.34, 0.09, 0.05, 0.005, 0.005],
            ),
            "priors_count": priors,
            "two_year_recid": recid,
        }
    )


@pytest.fixture(scope="module")
def roles() -> dict[str, ColumnRole]:
    return {r.name: r for r in classify_columns(people(), "two_year_recid")}


def test_each_column_of_a_recidivism_table_gets_its_role(roles: dict[str, ColumnRole]) -> None:
    got = {name: (r.role, r.type) for name, r in roles.items()}
    assert got == {
        "id": ("identifier", None),
        "name": ("personal", None),
        "email": ("personal", None),
        "phone": ("personal", None),
        "c_charge_desc": ("text", "text"),
        "county": ("constant", None),
        "screening_date": ("datetime", None),
        "is_recid": ("leak", None),
        "age": ("feature", "number"),
        "income": ("feature", "number"),
        "sex": ("feature", "binary"),
        "race": ("feature", "category"),
        "priors_count": ("feature", "number"),
    }


def test_every_reason_says_what_was_found(roles: dict[str, ColumnRole]) -> None:
    assert roles["id"].reason == (
        "identifier (100% unique integers, near-consecutive 1-2000 and an id-like name)"
    )
    assert roles["name"].reason.startswith("personal data (person names in ")
    assert roles["email"].reason == "personal data (EMAIL_ADDRESS in 100% of sampled values)"
    assert "PHONE_NUMBER" in roles["phone"].reason
    assert roles["c_charge_desc"].reason.startswith("free text (4.")
    assert roles["county"].reason == "constant (every value is 'broward')"
    assert "parse as dates" in roles["screening_date"].reason
    assert "derive features" in roles["screening_date"].reason
    assert "held-out accuracy 0.99" in roles["is_recid"].reason
    assert "majority class scores 0.5" in roles["is_recid"].reason
    assert roles["age"].reason == "number feature"


def test_a_unique_float_is_a_number_and_a_unique_unnamed_integer_is_not_an_id() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.6, 500),  # every value distinct
            "fnlwgt": rng.choice(np.arange(10_000, 1_500_000), 500, replace=False),
            "y": rng.choice(["a", "b"], 500),
        }
    )
    got = {r.name: (r.role, r.type) for r in classify_columns(frame, "y")}
    assert got == {"income": ("feature", "number"), "fnlwgt": ("feature", "number")}


def test_ids_by_name_by_shuffled_range_and_as_codes() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "patientId": rng.choice(np.arange(10**6, 10**7), 300, replace=False),  # sparse
            "row": rng.permutation(np.arange(1, 601))[:300],  # half of 1..600, shuffled
            "case_number": [f"13{n:06d}CF10A" for n in rng.choice(10**6, 300, replace=False)],
            "visits": rng.integers(0, 5, 300),
            "y": rng.choice(["a", "b"], 300),
        }
    )
    got = {r.name: r for r in classify_columns(frame, "y")}
    assert got["patientId"].role == "identifier"
    assert got["patientId"].reason == "identifier (100% unique integers, an id-like name)"
    assert got["row"].role == "identifier" and "near-consecutive" in got["row"].reason
    assert "id-like" not in got["row"].reason
    assert got["case_number"].role == "identifier"
    assert got["case_number"].reason == "identifier (100% of values are unique)"
    assert got["visits"].role == "feature"


def test_personal_by_column_name_and_ssn_values_but_not_a_yes_no_telephone() -> None:
    rng = np.random.default_rng(3)
    ssn = [f"{a}-{b:02d}-{c:04d}" for a, b, c in zip(
        rng.integers(100, 600, 400), rng.integers(10, 99, 400), rng.integers(1000, 9999, 400),
        strict=True,
    )]  # fmt: skip
    frame = pd.DataFrame(
        {
            "First Name": rng.choice(FIRST, 400),  # one word each: the name gives it away
            "ssn_number": ssn,
            "telephone": rng.choice(["yes", "no"], 400),
            "product_name": rng.choice(["Basic Plan", "Gold Plan", "Family Plan"], 400),
            "y": rng.choice(["good", "bad"], 400),
        }
    )
    got = {r.name: r for r in classify_columns(frame, "y")}
    assert got["First Name"].role == "personal"
    assert "the column name 'First Name'" in got["First Name"].reason
    assert got["ssn_number"].role == "personal" and "US_SSN" in got["ssn_number"].reason
    assert (got["telephone"].role, got["telephone"].type) == ("feature", "binary")
    assert (got["product_name"].role, got["product_name"].type) == ("feature", "category")


def test_repeated_names_are_personal_under_a_name_column_and_a_category_otherwise() -> None:
    rng = np.random.default_rng(8)
    first, last = rng.choice(FIRST[:10], 1000), rng.choice(LAST[:10], 1000)
    names = [f"{f} {n}" for f, n in zip(first, last, strict=True)]
    frame = pd.DataFrame({"customer_name": names, "team": names, "y": rng.choice(["a", "b"], 1000)})
    got = {r.name: r for r in classify_columns(frame, "y")}  # 100 distinct values in 1,000
    assert got["customer_name"].role == "personal"
    assert got["customer_name"].reason == "personal data (person names in 100% of sampled values)"
    assert (got["team"].role, got["team"].type) == ("feature", "category")


def test_free_text_mentioning_links_is_text_not_personal() -> None:
    rng = np.random.default_rng(4)
    words = [
        "great",
        "slow",
        "service",
        "parking",
        "staff",
        "friendly",
        "price",
        "late",
        "again",
        "never",
    ]
    texts = [
        " ".join(rng.choice(words, 6)) + (f" see https://shop.com/r/{i}" if i % 3 == 0 else "")
        for i in range(300)
    ]
    frame = pd.DataFrame({"review": texts, "y": rng.choice(["pos", "neg"], 300)})
    [role] = classify_columns(frame, "y")
    assert (role.role, role.type) == ("text", "text")


def test_an_all_missing_column_is_constant() -> None:
    frame = pd.DataFrame({"empty": [None] * 60, "x": range(60), "y": ["a", "b"] * 30})
    got = {r.name: r for r in classify_columns(frame, "y")}
    assert got["empty"].role == "constant"
    assert got["empty"].reason == "constant (every value is missing)"


def test_regression_leaks_by_correlation_and_by_a_one_column_tree() -> None:
    rng = np.random.default_rng(5)
    y = rng.uniform(-1, 1, 1000)
    frame = pd.DataFrame(
        {
            "rounded": np.round(y, 1),
            "cubed": y**3 * 1000,  # monotone, not linear: correlation ≈ 0.92
            "size": rng.normal(0, 1, 1000) + y,  # a useful, honest feature
            "y": y,
        }
    )
    got = {r.name: r for r in classify_columns(frame, "y", task="regression")}
    assert got["rounded"].role == "leak" and "correlation 0.99" in got["rounded"].reason
    assert got["cubed"].role == "leak" and "R²" in got["cubed"].reason
    assert (got["size"].role, got["size"].type) == ("feature", "number")


def test_a_toy_table_is_too_small_to_call_a_perfect_column_a_leak() -> None:
    frame = pd.DataFrame({"city": list("abc") * 60, "y": list("xyz") * 60})  # 180 rows
    [role] = classify_columns(frame, "y")
    assert (role.role, role.type) == ("feature", "category")
    bigger = pd.concat([frame] * 2, ignore_index=True)  # 360 rows: now it is evidence
    assert classify_columns(bigger, "y")[0].role == "leak"


def test_a_rare_class_is_not_called_a_leak_by_a_column_that_only_finds_the_majority() -> None:
    rng = np.random.default_rng(6)
    y = np.where(rng.random(3000) < 0.02, "fraud", "ok")  # majority 98%
    frame = pd.DataFrame({"amount": rng.lognormal(3, 1, 3000), "y": y})
    [role] = classify_columns(frame, "y")
    assert role.role == "feature"


def test_leak_check_is_seeded_and_deterministic() -> None:
    frame = people(rows=6000, seed=7)  # above the 5,000-row sample
    first = classify_columns(frame, "two_year_recid")
    assert classify_columns(frame.copy(), "two_year_recid") == first
    assert next(r for r in first if r.name == "is_recid").role == "leak"


def test_overrides_keep_retype_or_exclude_any_column() -> None:
    frame = people(rows=500)
    overrides: dict[str, ColumnOverride] = {
        "name": "category", "id": "feature", "is_recid": "binary", "age": "exclude",
    }  # fmt: skip
    got = {r.name: r for r in classify_columns(frame, "two_year_recid", overrides=overrides)}
    assert (got["name"].role, got["name"].type) == ("feature", "category")
    assert (got["id"].role, got["id"].type) == ("feature", "number")
    assert (got["is_recid"].role, got["is_recid"].type) == ("feature", "binary")
    assert (got["age"].role, got["age"].type) == ("excluded", None)
    assert "columns:" in got["age"].reason
    assert got["email"].role == "personal"  # the rest is classified as before


def test_sensitive_columns_are_left_out_and_an_override_brings_one_back() -> None:
    frame = people(rows=500)
    got = {r.name: r for r in classify_columns(frame, "two_year_recid", sensitive=["race", "sex"])}
    assert (got["race"].role, got["race"].type) == ("sensitive", None)
    assert "use_sensitive_as_features" in got["race"].reason
    kept = classify_columns(
        frame, "two_year_recid", sensitive=["race"], overrides={"race": "feature"}
    )
    assert next(r for r in kept if r.name == "race").type == "category"


def test_an_override_of_a_missing_column_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"column 'nmae' does not exist .* did you mean 'name'"):
        classify_columns(people(rows=100), "two_year_recid", overrides={"nmae": "exclude"})
    with pytest.raises(ConfigError, match="'two_year_recid' is the target"):
        classify_columns(people(rows=100), "two_year_recid", overrides={"two_year_recid": "text"})


def test_scenario_columns_field_takes_the_overrides_and_rejects_others() -> None:
    base = "name: s\ntask: classification\ndata: {source: x.csv, target: y}\n"
    scenario = parse_config(base + "columns: {name: text, id: exclude}\n", Scenario)
    assert scenario.columns == {"name": "text", "id": "exclude"}
    assert parse_config(base, Scenario).columns == {}
    with pytest.raises(ConfigError, match="columns"):
        parse_config(base + "columns: {name: drop}\n", Scenario)
    field = Scenario.model_fields["columns"].annotation
    assert typing.get_args(typing.get_args(field)[1]) == typing.get_args(ColumnOverride)


@pytest.mark.parametrize(
    ("name", "target"), [("adult", "income"), ("german_credit", "credit_risk")]
)
def test_builtin_tables_keep_every_column_as_a_feature(name: str, target: str) -> None:
    frames = read_source(f"builtin:{name}").frames
    frame = frames.get("train", next(iter(frames.values())))
    roles = classify_columns(frame, target)
    assert [r.role for r in roles] == ["feature"] * (frame.shape[1] - 1), [
        r.describe() for r in roles if r.role != "feature"
    ]
    types = {r.name: r.type for r in roles}
    if name == "adult":  # a census weight: many distinct integers, still a number
        assert types["fnlwgt"] == "number" and types["age"] == "number"
    else:
        assert types["credit_amount"] == "number" and types["telephone"] == "binary"


def test_builtin_sentiment_text_stays_text_and_digits_stay_images() -> None:
    frame = read_source("builtin:sentiment").frames["all"]
    got = {r.name: r for r in classify_columns(frame, "sentiment")}
    assert (got["text"].role, got["text"].type) == ("text", "text")
    assert (got["confidence"].role, got["confidence"].type) == ("feature", "number")
    digits = read_source("builtin:mnist").frames["train"]
    assert [(r.role, r.type) for r in classify_columns(digits, "label")] == [("feature", "image")]


def write_people(tmp_path: Path, rows: int = 600) -> Path:
    data = tmp_path / "compas.csv"
    people(rows=rows).to_csv(data, index=False)
    return data


def test_init_leaves_out_personal_columns_says_why_on_stderr_and_in_the_config(
    tmp_path: Path, cli: Any
) -> None:
    data = write_people(tmp_path)
    out = tmp_path / "config.yaml"
    result = cli("init", str(data), "--target", "two_year_recid", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "excluded name: personal data (person names in" in result.stderr
    assert "excluded id: identifier" in result.stderr
    assert "kept c_charge_desc as text: free text" in result.stderr
    noted = [line.split(":")[0] for line in result.stderr.splitlines()]
    assert noted == [
        "excluded id", "excluded name", "excluded email", "excluded phone",
        "kept c_charge_desc as text", "excluded county", "excluded screening_date",
        "excluded is_recid",
    ]  # fmt: skip
    text = out.read_text()
    comment = next(line for line in text.splitlines() if line.startswith("# excluded name:"))
    assert comment.endswith("— add it under input_features to use it")
    assert text.index("# excluded name:") < text.index("input_features:")
    config = load_config(out)
    types = {f.name: f.type for f in config.input_features}
    assert types == {
        "c_charge_desc": "text", "age": "number", "income": "number", "sex": "binary",
        "race": "category", "priors_count": "number",
    }  # fmt: skip


def test_init_to_stdout_prints_yaml_only(tmp_path: Path, cli: Any) -> None:
    data = write_people(tmp_path, rows=300)
    result = cli("init", str(data), "--target", "two_year_recid", env={"COLUMNS": "60"})
    assert result.returncode == 0, result.stderr
    assert "excluded email: personal data" in result.stderr
    comments = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert len(comments) == 8  # one per column left out or kept as text, none wrapped
    assert all(line.endswith(("to use it", "distinct values)")) for line in comments)
    config = parse_config(result.stdout)
    assert "email" not in {f.name for f in config.input_features}


def people_scenario(tmp_path: Path, **extra: Any) -> Path:
    scenario = {
        "name": "recidivism",
        "task": "classification",
        "data": {"source": str(write_people(tmp_path)), "target": "two_year_recid",
                 "split": {"validation_fraction": 0.2, "seed": 0}},
        "sensitive": ["race"],
        "budget": {"seconds": 5, "max_trials": 2},
        **extra,
    }  # fmt: skip
    path = tmp_path / "recidivism.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def test_match_prepare_records_roles_and_feeds_only_kept_columns(tmp_path: Path) -> None:
    path = people_scenario(tmp_path, columns={"county": "category", "priors_count": "exclude"})
    data = prepare(load_config(path, Scenario))
    got = {r.name: r for r in data.roles}
    assert got["name"].role == "personal" and got["id"].role == "identifier"
    assert got["race"].role == "sensitive"
    assert (got["county"].role, got["county"].type) == ("feature", "category")
    assert got["priors_count"].role == "excluded"
    inputs = {f.name: f.type for f in data.config.input_features}
    assert inputs == {
        "c_charge_desc": "text", "county": "category", "age": "number", "income": "number",
        "sex": "binary",
    }  # fmt: skip
    notes = data.role_notes()
    assert any(n.startswith("excluded name: personal data") for n in notes)
    assert any("columns: {id: feature}" in n for n in notes)
    assert not any("race" in n or "priors_count" in n for n in notes)  # the user's own calls


def test_match_rejects_columns_beside_input_features(tmp_path: Path) -> None:
    path = people_scenario(
        tmp_path, input_features=[{"name": "age", "type": "number"}], columns={"id": "exclude"}
    )
    with pytest.raises(ConfigError, match="columns: overrides apply to inferred inputs"):
        prepare(load_config(path, Scenario))


def test_match_warns_and_writes_the_roles_to_match_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tailorml.pipelines import match

    result = match(people_scenario(tmp_path), tmp_path / "run", quiet=False)
    warnings = capsys.readouterr().err
    assert "warning: excluded name: personal data (person names in" in warnings
    assert "warning: excluded is_recid: target leak" in warnings
    saved = json.loads((tmp_path / "run" / "match.json").read_text())
    columns = {c["name"]: c for c in saved["data"]["columns"]}
    assert columns["email"]["role"] == "personal" and columns["email"]["type"] is None
    assert columns["c_charge_desc"] == {
        "name": "c_charge_desc", "role": "text", "type": "text",
        "reason": columns["c_charge_desc"]["reason"],
    }  # fmt: skip
    assert result.dump()["data"]["columns"] == saved["data"]["columns"]
