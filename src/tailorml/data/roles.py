"""Column roles: what each column of a table is for, and why, before a model sees it.

``tailor init`` and ``tailor match`` (for a scenario without ``input_features``) call
``classify_columns``, which gives every column but the target one role with a one-line
reason. Only ``feature`` and ``text`` columns become model inputs; every other role is
left out and reported. The checks run in this order, and the first that holds wins:

1. **override** — the scenario's ``columns:`` entry for the column (``exclude``, ``feature``
   or a type): the user's word beats every rule below.
2. **sensitive** — listed under the scenario's ``sensitive`` (audited, not an input).
3. **image**, **audio** — arrays are image features, audio files (their bytes, or paths
   with an audio suffix) audio features (nothing below applies to them).
4. **constant** — at most one distinct value: nothing to learn from.
5. **personal** — before *identifier*, so that a unique name column is called personal.
   More than half of 200 sampled values *are* an e-mail, phone, card, IP, SSN… by
   presidio's pattern recognizers (as in ``tailorml.data.pii``; a finding must cover half
   the value, so free text that mentions a link stays text); or 80% look like person names
   (2-3 alphabetic words) and half the values are distinct or the column is called
   ``name``, ``customer_name``…; or the column name alone says so (``first``, ``email``,
   ``phone``, ``address``, ``ssn``…). The name rules need 20 distinct values, so a yes/no
   ``telephone`` stays a feature.
6. **datetime** — 80% of sampled strings parse as dates or timestamps (before
   *identifier*: timestamps are near-unique).
7. **identifier** — 95% of values distinct: strings of under 3 words per value, or
   integers that fill 30% of their range (a row number, or a split of one) or have an
   id-like name (``id``, ``user_id``, ``uuid``, ``key``, ``case_number``…). Without an
   id-like name a column needs 100 values for uniqueness to count. Floats never are
   identifiers (an income or a measurement has many values too).
8. **leak** — with 200 labelled rows or more (a seeded sample of at most 5,000), a model
   reading only this column (a shallow tree for numbers, each value's majority class or
   mean otherwise) reaches 3-fold held-out accuracy 0.99 with at most a tenth of the
   majority class's error; for regression, |correlation| or held-out R² 0.99.
9. **text** — 3 words per value or more, and over 50 distinct values or over half
   distinct: kept as a text feature, even where ``infer_type`` would say category.
10. **feature** — everything else, typed by ``infer_type``.

Every statistic is computed on the given rows (``tailor match`` passes its training split)
and every sample is seeded, so the same table always gets the same roles.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from tailorml.data.infer import infer_target_type, infer_type
from tailorml.errors import ConfigError, dash_hint

Role = Literal[
    "feature", "text", "constant", "personal", "datetime", "identifier", "leak", "sensitive",
    "excluded",
]  # fmt: skip
ColumnOverride = Literal["feature", "number", "category", "binary", "text", "exclude"]
Task = Literal["classification", "regression"]

SAMPLE_VALUES = 200  # values read per column by the personal-data and date checks
MAJORITY = 0.5  # share of sampled values holding an entity for a personal column
MOSTLY = 0.8  # share of sampled values that must look like names, or parse as dates
NAME_MIN_DISTINCT = 20  # a name-like column with fewer values is a category (e.g. yes/no)
NAME_MIN_UNIQUE_SHARE = 0.5  # person names in a table of people rarely repeat
IDENTIFIER_UNIQUE_SHARE = 0.95
IDENTIFIER_MIN_VALUES = 100  # below this, uniqueness alone says little (unless id-named)
CONSECUTIVE_DENSITY = 0.3  # distinct integers / their range; a split of 1..N keeps its share
TEXT_MIN_WORDS = 3
TEXT_MIN_DISTINCT = 50
TEXT_MIN_UNIQUE_SHARE = 0.5
LEAK_SAMPLE_ROWS = 5000
LEAK_MIN_ROWS = 200  # below this, "99% right" is a handful of rows: luck, or a toy table
LEAK_MIN_SCORE = 0.99  # accuracy, |correlation| or R² on held-out rows
LEAK_ERROR_SHARE = 0.1  # a leak's error is at most this share of the majority class's
LEAK_FOLDS = 3
SEED = 0

_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "pk", "idx", "index", "record"})
_ID_NUMBERED = frozenset(
    {"case", "record", "row", "account", "order", "ticket", "serial", "ref", "reference",
     "docket", "booking", "invoice", "file"}
)  # fmt: skip
_NUMBER_TOKENS = frozenset({"number", "num", "no", "nr"})
_PERSONAL_NAMES = frozenset(
    {"name", "first", "last", "surname", "firstname", "lastname", "fullname", "forename",
     "patient", "customer", "person", "email", "e_mail", "mail", "phone", "telephone",
     "mobile", "address", "street", "ssn", "social_security_number", "dob",
     "date_of_birth", "birth_date", "birthdate", "passport_number", "credit_card",
     "card_number", "iban", "ip_address"}
)  # fmt: skip
_PERSONAL_LAST_TOKENS = frozenset(
    {"surname", "firstname", "lastname", "fullname", "email", "phone", "address", "ssn"}
)
_PERSON_WORDS = frozenset(
    {"first", "last", "full", "given", "family", "middle", "maiden", "nick", "user",
     "customer", "client", "patient", "person", "employee", "student", "contact", "owner",
     "driver", "defendant", "applicant", "member", "holder", "parent", "mother", "father",
     "spouse", "guardian", "doctor", "officer"}
)  # fmt: skip
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’.\-][^\W\d_]+)*\.?")
_DATE_LIKE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}:\d{2}"
    r"|(?i:\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d)"
    r"|(?i:\d\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"
)
_MAX_DATE_LENGTH = 40
_QUIET_ROLES = frozenset({"feature", "sensitive", "excluded"})  # plain, or the user's own call
SENSITIVE_REASON = (
    "sensitive attribute (audited for fairness, not fed to the models; "
    "set use_sensitive_as_features to use it)"
)


@dataclass(frozen=True)
class ColumnRole:
    """One column's role, its feature type (None when left out) and why."""

    name: str
    role: Role
    type: str | None
    reason: str

    @property
    def kept(self) -> bool:
        """Whether the column becomes a model input."""
        return self.type is not None

    def describe(self) -> str:
        """One line for a person: ``excluded name: personal data (...)``."""
        if self.kept:
            return f"kept {self.name} as {self.type}: {self.reason}"
        return f"excluded {self.name}: {self.reason}"


def classify_columns(
    frame: pd.DataFrame,
    target: str,
    *,
    sensitive: Collection[str] = (),
    overrides: Mapping[str, ColumnOverride] | None = None,
    task: Task | None = None,
) -> list[ColumnRole]:
    """Give every column but the target a role, in the frame's column order.

    Args:
        frame: The table (for a scenario, its training rows).
        sensitive: Columns left out as sensitive attributes.
        overrides: ``{column: override}`` from a scenario's ``columns:``.
        task: classification or regression, for the leak check; None infers it from the
            target's values as ``tailor init`` does.

    Raises:
        ConfigError: An override names the target or a column the table lacks.
    """
    overrides = dict(overrides or {})
    check_overrides(overrides, [str(c) for c in frame.columns], target)
    if task is None:
        numeric = infer_target_type(frame[target]) == "number"
        task = "regression" if numeric else "classification"
    rows = leak_rows(frame, target)
    roles = []
    for column in frame.columns:
        name = str(column)
        if name == target:
            continue
        if name in overrides:
            roles.append(overridden(name, frame[column], overrides[name]))
        elif name in sensitive:
            roles.append(ColumnRole(name, "sensitive", None, SENSITIVE_REASON))
        else:
            roles.append(classify_column(name, frame[column], rows[column], rows[target], task))
    return roles


def notes(roles: list[ColumnRole], hint: str) -> list[str]:
    """One line per column the rules did not keep as a plain feature: left out, or text.

    Columns the user placed (``sensitive``, a ``columns:`` entry) are not repeated back.

    Args:
        hint: How to keep a left-out column, appended after a dash; ``{name}`` stands
            for the column's name.

    Returns:
        ``excluded name: personal data (...) — HINT`` or ``kept notes as text: ...``.
    """
    return [
        role.describe() + ("" if role.kept else f" — {hint.format(name=role.name)}")
        for role in roles
        if role.role not in _QUIET_ROLES
    ]


def check_overrides(overrides: Mapping[str, str], columns: list[str], target: str) -> None:
    """ConfigError for an override of the target or of a column that does not exist (with
    the nearest existing one)."""
    for name in overrides:
        if name == target:
            raise ConfigError(
                f"columns: '{name}' is the target; overrides apply to the input columns."
            )
        if name not in columns:
            tip = dash_hint(name, columns)
            raise ConfigError(f"columns: column '{name}' does not exist in the data{tip}")


def overridden(name: str, column: pd.Series, override: ColumnOverride) -> ColumnRole:
    """The role a scenario's ``columns:`` entry sets."""
    if override == "exclude":
        return ColumnRole(name, "excluded", None, "excluded by the scenario's columns: entry")
    kind = infer_type(column) if override == "feature" else override
    return ColumnRole(name, "feature", kind, f"kept by the scenario's columns: entry ({override})")


def classify_column(
    name: str, column: pd.Series, sample: pd.Series, target: pd.Series, task: Task
) -> ColumnRole:
    """The role of one column, by the checks in the module's order.

    ``sample`` is the column on the leak-check rows, ``target`` the target on them.
    """
    kind = infer_type(column)
    if kind in ("image", "audio"):
        return ColumnRole(name, "feature", kind, f"{kind} feature")
    values = column.dropna()
    if values.nunique() <= 1:
        every = f"is {str(values.iloc[0])[:40]!r}" if len(values) else "is missing"
        return ColumnRole(name, "constant", None, f"constant (every value {every})")
    # the non-missing values as Python strings; none for numbers and dates
    numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)
    strings = pd.Series([], dtype=object) if numeric else values.astype(str).astype(object)
    picked = strings.sample(n=min(SAMPLE_VALUES, len(strings)), random_state=SEED)
    if (reason := personal_reason(name, values, picked)) is not None:
        return ColumnRole(name, "personal", None, reason)
    if (reason := datetime_reason(values, picked)) is not None:
        return ColumnRole(name, "datetime", None, reason)
    if (reason := identifier_reason(name, values, strings)) is not None:
        return ColumnRole(name, "identifier", None, reason)
    if (reason := leak_reason(sample, target, task)) is not None:
        return ColumnRole(name, "leak", None, reason)
    if (reason := text_reason(strings)) is not None:
        return ColumnRole(name, "text", "text", reason)
    return ColumnRole(name, "feature", kind, f"{kind} feature")


def personal_reason(name: str, values: pd.Series, picked: pd.Series) -> str | None:
    """Why a column holds personal data, or None.

    ``values`` are its non-missing values, ``picked`` a seeded sample of them as strings
    (empty for a numeric column).
    """
    found = entity_share(picked)
    if found is not None and found[1] > MAJORITY:
        return f"personal data ({found[0]} in {found[1]:.0%} of sampled values)"
    distinct = values.nunique()
    if distinct < NAME_MIN_DISTINCT:
        return None  # a yes/no "telephone" or a handful of plan names is a category
    named = personal_name(name)
    names = person_name_share(picked)
    if names >= MOSTLY and (named or distinct / len(values) >= NAME_MIN_UNIQUE_SHARE):
        return f"personal data (person names in {names:.0%} of sampled values)"
    if named:
        return f"personal data (the column name '{name}' says so, {distinct} distinct values)"
    return None


def entity_share(picked: pd.Series) -> tuple[str, float] | None:
    """The commonest presidio entity among values that mostly are one, and their share.

    A value counts when its findings cover at least half of its non-space characters: an
    e-mail column counts, a review that mentions a link does not.
    """
    # every entity needs a digit, "@", "." or ":" (an all-words column skips presidio,
    # which takes seconds to import)
    possible = picked[picked.str.contains(r"[\d@.:]", regex=True)]
    if len(possible) <= MAJORITY * len(picked):
        return None
    from tailorml.data.pii import find

    hits: Counter[str] = Counter()
    for value, count in possible.value_counts().items():
        text = str(value)
        findings = find(text)
        covered = sum(f.end - f.start for f in findings)
        if findings and covered * 2 >= len(text.replace(" ", "")):
            entity = max(findings, key=lambda f: f.end - f.start).entity_type
            hits[entity] += int(count)
    if not hits:
        return None
    return hits.most_common(1)[0][0], hits.total() / len(picked)


def person_name_share(picked: pd.Series) -> float:
    """Share of sampled values that look like a person's name (2-3 alphabetic words)."""
    if len(picked) == 0:
        return 0.0
    words = picked.str.split()
    looks = words.map(lambda w: 2 <= len(w) <= 3 and all(_NAME_TOKEN.fullmatch(t) for t in w))
    return float(looks.mean())


def name_tokens(name: str) -> list[str]:
    """Lower-case words of a column name: ``customerName`` and ``customer_name`` →
    ``["customer", "name"]``."""
    spaced = re.sub(r"([a-z\d])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def personal_name(name: str) -> bool:
    """Whether a column's name says it holds personal data (``first_name``, ``email``)."""
    tokens = name_tokens(name)
    if not tokens:
        return False
    if "_".join(tokens) in _PERSONAL_NAMES or tokens[-1] in _PERSONAL_LAST_TOKENS:
        return True
    # "customer_name" is a person; "product_name" or "file_name" is not
    return tokens[-1] == "name" and len(tokens) >= 2 and tokens[-2] in _PERSON_WORDS


def id_name(name: str) -> bool:
    """Whether a column's name says it is an identifier (``id``, ``user_id``, ``case_no``)."""
    tokens = name_tokens(name)
    if not tokens:
        return False
    if tokens[-1] in _ID_TOKENS or tokens[0] == "unnamed":  # pandas' saved index
        return True
    return len(tokens) >= 2 and tokens[-1] in _NUMBER_TOKENS and tokens[-2] in _ID_NUMBERED


def datetime_reason(values: pd.Series, picked: pd.Series) -> str | None:
    """Why a column holds dates or timestamps (a datetime column, or strings), or None."""
    derive = "derive features such as year, month or weekday from it"
    if pd.api.types.is_datetime64_any_dtype(values):
        return f"date/time values ({derive})"
    if len(picked) == 0:
        return None
    short = picked[picked.str.len() <= _MAX_DATE_LENGTH]
    datelike = short[short.map(lambda v: _DATE_LIKE.search(v) is not None)]
    parsed = pd.to_datetime(datelike, format="mixed", errors="coerce", utc=True)
    share = parsed.notna().sum() / len(picked)
    if share < MOSTLY:
        return None
    return f"date/time values ({share:.0%} of sampled values parse as dates; {derive})"


def identifier_reason(name: str, values: pd.Series, strings: pd.Series) -> str | None:
    """Why a column is an identifier (near-unique short strings or id-like integers)."""
    distinct = values.nunique()
    share = distinct / len(values)
    named = id_name(name)
    if share < IDENTIFIER_UNIQUE_SHARE or (distinct < IDENTIFIER_MIN_VALUES and not named):
        return None
    if len(strings):
        if mean_words(strings) >= TEXT_MIN_WORDS:
            return None  # near-unique free text is text, not an id
        return f"identifier ({share:.0%} of values are unique)"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric or np.any(np.mod(values.to_numpy(dtype=float), 1) != 0):
        return None  # only whole numbers (an int column, or whole floats) can be ids
    low, high = values.min(), values.max()
    span = float(high) - float(low) + 1  # a row number, or a split of one, fills much of it
    facts = [f"near-consecutive {low}-{high}"] if distinct / span >= CONSECUTIVE_DENSITY else []
    facts += ["an id-like name"] if named else []
    if not facts:
        return None
    return f"identifier ({share:.0%} unique integers, " + " and ".join(facts) + ")"


def mean_words(strings: pd.Series) -> float:
    """Mean number of whitespace-separated words per value (``strings`` not empty)."""
    counts = strings.value_counts()  # each distinct value split once
    words = pd.Series(counts.index, dtype=object).str.split().str.len().to_numpy()
    return float(np.sum(words * counts.to_numpy()) / counts.sum())


def text_reason(strings: pd.Series) -> str | None:
    """Why a string column is free text, or None."""
    if len(strings) == 0:
        return None
    words = mean_words(strings)
    distinct = strings.nunique()
    share = distinct / len(strings)
    many = distinct > TEXT_MIN_DISTINCT or (share > TEXT_MIN_UNIQUE_SHARE and distinct > 2)
    if words < TEXT_MIN_WORDS or not many:
        return None
    return f"free text ({words:.1f} words per value, {distinct} distinct values)"


def leak_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """A seeded sample of at most ``LEAK_SAMPLE_ROWS`` rows with a target value."""
    labelled = frame[frame[target].notna()]
    if len(labelled) > LEAK_SAMPLE_ROWS:
        labelled = labelled.sample(n=LEAK_SAMPLE_ROWS, random_state=SEED)
    return labelled.reset_index(drop=True)


def leak_reason(column: pd.Series, target: pd.Series, task: Task) -> str | None:
    """Why one column alone (on the leak-check rows, target never missing) predicts the
    target too well to be honest, or None."""
    if len(target) < LEAK_MIN_ROWS:
        return None
    if task == "classification":
        return classification_leak(column, target.astype(str))
    return regression_leak(column, pd.to_numeric(target, errors="coerce"))


def classification_leak(column: pd.Series, target: pd.Series) -> str | None:
    """A leak when held-out accuracy is ≥ 0.99 and far above the majority class's."""
    majority = float(target.value_counts(normalize=True).iloc[0])
    if majority >= 1:
        return None
    accuracy = held_out_score(column, target, "classification")
    if accuracy < LEAK_MIN_SCORE or (1 - accuracy) > LEAK_ERROR_SHARE * (1 - majority):
        return None
    return (
        f"target leak (this column alone predicts the target with held-out accuracy "
        f"{accuracy:.3f}; the majority class scores {majority:.3f})"
    )


def regression_leak(column: pd.Series, target: pd.Series) -> str | None:
    """A leak when |correlation| or a one-column model's held-out R² is ≥ 0.99."""
    if target.nunique() < 2:
        return None
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        both = pd.DataFrame({"x": column, "y": target}).dropna()
        if both["x"].nunique() > 1:
            correlation = float(np.corrcoef(both["x"], both["y"])[0, 1])
            if abs(correlation) >= LEAK_MIN_SCORE:
                return f"target leak (correlation {correlation:.3f} with the target)"
    r2 = held_out_score(column, target, "regression")
    if r2 < LEAK_MIN_SCORE:
        return None
    return f"target leak (this column alone explains the target with held-out R² {r2:.3f})"


def held_out_score(column: pd.Series, target: pd.Series, task: Task) -> float:
    """Cross-validated accuracy (or R²) of a model that reads only this column.

    Numbers go through a shallow decision tree; anything else through a lookup of each
    value's majority class (or mean) on the training folds, so a value never seen in
    training earns no credit.
    """
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    folds = KFold(n_splits=LEAK_FOLDS, shuffle=True, random_state=SEED)
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        x = column.to_numpy(dtype=float).reshape(-1, 1)  # (N, 1), NaN allowed
        tree = (
            DecisionTreeClassifier(max_depth=4, random_state=SEED)
            if task == "classification"
            else DecisionTreeRegressor(max_depth=8, random_state=SEED)
        )
        scores = cross_val_score(tree, x, target.to_numpy(), cv=folds, error_score="raise")
    else:
        strings = column.astype(str)
        splits = folds.split(column)
        scores = [lookup_score(strings, target, train, test, task) for train, test in splits]
    return float(np.mean(scores))


def lookup_score(
    column: pd.Series, target: pd.Series, train: np.ndarray, test: np.ndarray, task: Task
) -> float:
    """Held-out accuracy (or R²) of predicting each value's training-fold majority (mean)."""
    seen = pd.DataFrame({"x": column.iloc[train], "y": target.iloc[train]})
    truth = target.iloc[test].to_numpy()
    if task == "classification":
        counts = seen.groupby(["x", "y"]).size().reset_index(name="n")
        best = counts.sort_values(["n", "y"], ascending=[False, True], kind="stable")
        table = best.drop_duplicates("x").set_index("x")["y"]
        fallback = seen["y"].value_counts().index[0]
        guess = column.iloc[test].map(table).fillna(fallback).to_numpy()
        return float(np.mean(guess == truth))
    means = seen.groupby("x")["y"].mean()
    guess = column.iloc[test].map(means).fillna(seen["y"].mean()).to_numpy(dtype=float)
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return 1 - float(np.sum((truth - guess) ** 2)) / spread if spread > 0 else 0.0
