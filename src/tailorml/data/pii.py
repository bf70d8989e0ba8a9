"""Personal data (PII) in text columns: count it, redact it, or act on a policy.

Detection uses presidio's pattern recognizers only (regular expressions plus checksums:
Luhn for cards, mod-97 for IBANs, python-phonenumbers for phones), run through an
``AnalyzerEngine`` whose NLP engine is presidio's ``NoOpNlpEngine``: no spaCy model is
loaded or downloaded, and nothing reaches the network (the e-mail check reads
tldextract's bundled suffix list instead of fetching the live one).

Without an NLP engine no context words raise a score, so a finding must stand on its
own: results under ``SCORE_THRESHOLD`` are dropped, recognizers that only ever score
below it (US passport, driver licence, bank account) are left out, and two rules remove
the false positives the patterns make in informal text:

* a phone number has 7-15 digits, and a bare run of digits must have the 10-11 digits of
  a full number (flight 1689 or a 13-digit ticket number is not a phone);
* a URL without ``http(s)://`` or ``www.`` must have a path or a common generic top-level
  domain (``shop.com`` counts; ``see.Ve`` or ``wait...it`` from missing spaces does not).

Where findings overlap, the higher score wins (an IBAN over the phone number inside it),
so every counted finding is exactly one ``<ENTITY_TYPE>`` in the redacted text.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any

import pandas as pd
import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer import RecognizerResult as Finding
from presidio_analyzer import predefined_recognizers as known
from presidio_analyzer.nlp_engine import NoOpNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerSpan

from tailorml.errors import ConfigError, DataError, dash_hint

ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "MAC_ADDRESS",
    "URL", "CRYPTO", "US_SSN", "US_ITIN", "MEDICAL_LICENSE",
)  # fmt: skip
POLICIES: tuple[str, ...] = ("allow", "redact", "drop_column", "fail")
SCORE_THRESHOLD = 0.4  # the phone recognizer's fixed score; weak regex-only guesses sit below

Counts = dict[str, dict[str, int]]

_LANGUAGE = "en"
_SCHEME_OR_WWW = re.compile(r"(?i)^(?:https?://|www\d{0,3}\.)")
_BARE_URL_TLDS = frozenset({"com", "org", "net", "edu", "gov", "io"})


class _OfflineEmailRecognizer(known.EmailRecognizer):
    """Presidio's e-mail recognizer, checking domains against tldextract's bundled list."""

    _extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())

    def validate_result(self, pattern_text: str) -> bool:
        """Whether the address ends in a known public suffix (never fetched online)."""
        return self._extract(pattern_text).fqdn != ""


@functools.cache
def _analyzer() -> AnalyzerEngine:
    """The pattern-only analyzer, one recognizer per entity in ``ENTITIES``, built once
    (construction takes about a second)."""
    recognizers: list[EntityRecognizer] = [
        _OfflineEmailRecognizer(),
        # STRICT_GROUPING: digits grouped as the number's format says, so no dates or IPs.
        known.PhoneRecognizer(leniency=2),
        known.CreditCardRecognizer(),
        known.IbanRecognizer(),
        known.IpRecognizer(),
        known.MacAddressRecognizer(),
        known.UrlRecognizer(),
        known.CryptoRecognizer(),
        known.UsSsnRecognizer(),
        known.UsItinRecognizer(),
        known.MedicalLicenseRecognizer(),
    ]
    return AnalyzerEngine(
        registry=RecognizerRegistry(recognizers, supported_languages=[_LANGUAGE]),
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": _LANGUAGE, "model_name": "no_op"}]),
        supported_languages=[_LANGUAGE],
        default_score_threshold=SCORE_THRESHOLD,
    )


def _plausible_phone(span: str) -> bool:
    """Whether a phone match looks like a phone number rather than some other number."""
    digits = sum(char.isdigit() for char in span)
    if span.isdigit():
        return digits in (10, 11)
    return 7 <= digits <= 15


def _plausible_url(span: str) -> bool:
    """Whether a URL match is a link rather than two words joined by dots."""
    url = span.strip("\"'")
    if _SCHEME_OR_WWW.match(url):
        return True
    host, slash, _ = url.partition("/")
    if host.startswith(".") or ".." in host:
        return False
    return bool(slash) or host.rsplit(".", 1)[-1].lower() in _BARE_URL_TLDS


_PLAUSIBLE = {"PHONE_NUMBER": _plausible_phone, "URL": _plausible_url}


def _plausible(finding: Finding, text: str) -> bool:
    """Whether a finding survives the rules for phone numbers and URLs."""
    check = _PLAUSIBLE.get(finding.entity_type)
    return check is None or check(text[finding.start : finding.end])


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep the best of overlapping findings (higher score, then longer), in text order."""
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, f.start - f.end, f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def find(text: str) -> list[Finding]:
    """Non-overlapping findings (``entity_type``, ``start``, ``end``, ``score``) of
    personal data in one text, in text order."""
    findings = _analyzer().analyze(text, language=_LANGUAGE, entities=list(ENTITIES))
    return _without_overlaps([f for f in findings if _plausible(f, text)])


def is_text(series: pd.Series) -> bool:
    """Whether a column holds text (object or string dtype)."""
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


def text_columns(frame: pd.DataFrame, columns: list[str] | None = None) -> list[str]:
    """The columns to scan: the named ones, checked, or (None) every object or string column.

    Raises:
        DataError: A named column does not exist or is not a text column.
    """
    if columns is None:
        return [column for column in frame.columns if is_text(frame[column])]
    for column in columns:
        if column not in frame.columns:
            tip = dash_hint(column, frame.columns)
            raise DataError(f"PII column '{column}' does not exist in the data{tip}")
        if not is_text(frame[column]):
            raise DataError(
                f"PII column '{column}' is not a text column (dtype {frame[column].dtype}); "
                "only object or string columns can be scanned for personal data."
            )
    return list(columns)


def _scan_column(series: pd.Series) -> tuple[dict[str, list[Finding]], dict[str, int]]:
    """Findings per distinct text holding any, and counts per entity over all rows.

    Each distinct text is analysed once; missing and non-string values are skipped.
    """
    findings: dict[str, list[Finding]] = {}
    counts: Counter[str] = Counter()
    for text, rows in series.value_counts(dropna=True).items():
        if not isinstance(text, str):
            continue
        found = find(text)
        if found:
            findings[text] = found
            for finding in found:
                counts[finding.entity_type] += int(rows)
    return findings, {entity: counts[entity] for entity in ENTITIES if counts[entity]}


def scan(frame: pd.DataFrame, columns: list[str] | None = None) -> Counts:
    """``{column: {entity_type: count}}`` for every column of ``text_columns(frame,
    columns)`` (an empty dict where none was found)."""
    return {column: _scan_column(frame[column])[1] for column in text_columns(frame, columns)}


def _redact_column(series: pd.Series, findings: dict[str, list[Finding]]) -> pd.Series:
    """The column with every finding replaced by ``<ENTITY_TYPE>``, rows in place."""
    if not findings:
        return series
    engine = AnonymizerEngine()  # cheap to build, unlike the analyzer
    redacted = {}
    for text, found in findings.items():
        spans = [AnonymizerSpan(f.entity_type, f.start, f.end, f.score) for f in found]
        result = engine.anonymize(
            text,
            spans,
            operators={"DEFAULT": OperatorConfig("replace")},
            merge_entities_with_spaces=False,
        )
        redacted[text] = str(result.text)
    return series.mask(series.isin(list(redacted)), series.map(redacted))


def redact(frame: pd.DataFrame, columns: list[str] | None = None) -> tuple[pd.DataFrame, Counts]:
    """Replace personal data in ``text_columns(frame, columns)`` by ``<ENTITY_TYPE>``.

    Returns:
        A copy with the same rows in the same order and other columns untouched, and the
        counts that ``scan`` would give.
    """
    out = frame.copy()
    counts: Counts = {}
    for column in text_columns(frame, columns):
        findings, counts[column] = _scan_column(frame[column])
        out[column] = _redact_column(frame[column], findings)
    return out, counts


def apply_policy(
    frame: pd.DataFrame, policy: str, columns: list[str] | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Act on the personal data in a frame as a policy says.

    Args:
        frame: The data (left unchanged).
        policy: ``allow`` (return the frame as is, without scanning), ``redact``
            (replace findings by ``<ENTITY_TYPE>``), ``drop_column`` (drop every scanned
            column holding any finding) or ``fail`` (raise when anything is found).
        columns: As in ``text_columns``.

    Returns:
        The resulting frame (``frame`` itself when nothing changes) and a JSON-ready
        summary ``{"policy", "columns": {column: {entity_type: count}},
        "dropped_columns": [...]}``.

    Raises:
        ConfigError: The policy is unknown.
        DataError: A named column does not exist or is not a text column, or the policy
            is ``fail`` and personal data was found (the message lists columns and counts).
    """
    if policy not in POLICIES:
        tip = dash_hint(policy, POLICIES)
        raise ConfigError(f"unknown PII policy '{policy}'{tip} (valid: {', '.join(POLICIES)})")
    if policy == "allow":
        return frame, {"policy": policy, "columns": {}, "dropped_columns": []}
    if policy == "redact":
        redacted, counts = redact(frame, columns)
        return redacted, {"policy": policy, "columns": counts, "dropped_columns": []}
    counts = scan(frame, columns)
    flagged = [column for column, found in counts.items() if found]
    if policy == "fail" and flagged:  # column 'a' (2 EMAIL_ADDRESS, 1 URL) and column 'b' (...)
        parts = [
            f"column '{column}' (" + ", ".join(f"{n} {entity}" for entity, n in found.items()) + ")"
            for column, found in counts.items()
            if found
        ]
        where = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
        raise DataError(
            f"personal data found in {where} and the PII policy is 'fail'; "
            "use 'redact' or 'drop_column' to go on without it, or 'allow' to keep it."
        )
    dropped = flagged if policy == "drop_column" else []
    out = frame.drop(columns=dropped) if dropped else frame
    return out, {"policy": policy, "columns": counts, "dropped_columns": dropped}
