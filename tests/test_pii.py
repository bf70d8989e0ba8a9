"""Personal-data detection and redaction (tailorml.data.pii)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailorml.data import load_builtin, pii
from tailorml.errors import ConfigError, DataError

# (sentence, planted strings, expected counts per entity)
PLANTED = [
    (
        "Write to jane.doe@example.com about the refund.",
        ["jane.doe@example.com"],
        {"EMAIL_ADDRESS": 1},
    ),
    ("Call me at (415) 555-2671 tomorrow.", ["(415) 555-2671", "555-2671"], {"PHONE_NUMBER": 1}),
    (
        "Our London desk is on +44 20 7946 0958.",
        ["+44 20 7946 0958", "7946 0958"],
        {"PHONE_NUMBER": 1},
    ),
    (
        "Berlin: +49 30 12345678, Mumbai: +91 98765 43210 or 1-800-433-7300.",
        ["+49 30 12345678", "12345678", "98765 43210", "433-7300"],
        {"PHONE_NUMBER": 3},
    ),
    (
        "Pay with card 4111 1111 1111 1111 please.",
        ["4111 1111 1111 1111", "1111"],
        {"CREDIT_CARD": 1},
    ),
    ("Or use 5500-0000-0000-0004 instead.", ["5500-0000-0000-0004"], {"CREDIT_CARD": 1}),
    (
        "Transfer to GB82 WEST 1234 5698 7654 32 or DE89370400440532013000 today.",
        ["GB82 WEST 1234 5698 7654 32", "5698 7654", "DE89370400440532013000"],
        {"IBAN_CODE": 2},
    ),
    ("The server at 192.168.10.25 is down again.", ["192.168.10.25"], {"IP_ADDRESS": 1}),
    (
        "Read more at https://example.org/reviews?id=7 or www.tailorml.dev now.",
        ["https://example.org/reviews?id=7", "example.org", "www.tailorml.dev"],
        {"URL": 2},
    ),
    ("My SSN is 536-22-8147, keep it safe.", ["536-22-8147"], {"US_SSN": 1}),
    (
        "Mail ops@shop.com or call 617-653-3040 from 10.0.0.7.",
        ["ops@shop.com", "617-653-3040", "10.0.0.7"],
        {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "IP_ADDRESS": 1},
    ),
]
CLEAN = [
    "I loved the film, ten out of ten.",
    "Flight 1689 took 2 hours and cost 350 dollars in 2015.",
    "On 12/03/2021 at 10:30 I upgraded to version 3.11.2, e.g. this one.",
    "Ticket 0162389030167, refund 16866853, case 8465981.",
    "Rated 4.5 stars, 99.9% uptime, 10/10 would fly again.",
    "Waited for hours...it was awful.Never again!",
]


def planted_frame() -> pd.DataFrame:
    """Planted PII rows and clean rows interleaved, with a missing value and other columns."""
    texts: list[str | None] = []
    for (sentence, _, _), clean in zip(PLANTED, CLEAN * 2, strict=False):
        texts += [sentence, clean]
    texts.append(None)
    return pd.DataFrame(
        {
            "id": np.arange(len(texts)) * 10,
            "note": pd.array(texts, dtype="string"),
            "city": ["Lyon", "Oslo"] * (len(texts) // 2) + ["Rome"] * (len(texts) % 2),
            "score": np.linspace(0.0, 1.0, len(texts)),
        },
        index=pd.RangeIndex(100, 100 + len(texts)),
    )


def expected_counts() -> dict[str, int]:
    total: dict[str, int] = {}
    for _, _, counts in PLANTED:
        for entity, n in counts.items():
            total[entity] = total.get(entity, 0) + n
    return total


def test_entities_match_the_analyzer() -> None:
    assert set(pii._analyzer().get_supported_entities()) == set(pii.ENTITIES)


@pytest.mark.parametrize(("sentence", "planted", "counts"), PLANTED)
def test_each_planted_sentence_is_found_and_redacted(
    sentence: str, planted: list[str], counts: dict[str, int]
) -> None:
    frame = pd.DataFrame({"note": [sentence]})
    redacted, found = pii.redact(frame)
    text = redacted.loc[0, "note"]
    assert found == {"note": counts}
    assert all(value not in text for value in planted), text
    assert all(f"<{entity}>" in text for entity in counts)


def test_redact_removes_all_planted_pii_and_keeps_the_rest() -> None:
    frame = planted_frame()
    original = frame.copy()
    redacted, counts = pii.redact(frame)

    assert counts == {"note": expected_counts(), "city": {}}
    assert counts == pii.scan(frame)
    cells = [str(cell) for cell in redacted.to_numpy().ravel()]
    for _, planted, _ in PLANTED:
        for value in planted:
            assert not any(value in cell for cell in cells), value
    pd.testing.assert_frame_equal(frame, original)  # the input is not modified
    assert redacted.index.equals(frame.index)
    assert list(redacted.columns) == list(frame.columns)
    for column in ("id", "city", "score"):
        pd.testing.assert_series_equal(redacted[column], frame[column])
    assert redacted["note"].dtype == frame["note"].dtype
    assert redacted["note"].isna().tolist() == frame["note"].isna().tolist()
    clean = frame["note"].isin(CLEAN)
    pd.testing.assert_series_equal(redacted["note"][clean], frame["note"][clean])
    assert redacted.loc[100, "note"] == "Write to <EMAIL_ADDRESS> about the refund."


def test_plain_sentences_have_no_pii() -> None:
    frame = pd.DataFrame({"note": CLEAN})
    assert pii.scan(frame) == {"note": {}}
    redacted, _ = pii.redact(frame)
    pd.testing.assert_frame_equal(redacted, frame)


def test_duplicate_texts_count_once_per_row() -> None:
    frame = pd.DataFrame({"note": ["mail a@b.com now"] * 3 + [None], "n": [1, 2, 3, 4]})
    redacted, counts = pii.redact(frame, ["note"])
    assert counts == {"note": {"EMAIL_ADDRESS": 3}}
    assert redacted["note"].iloc[:3].tolist() == ["mail <EMAIL_ADDRESS> now"] * 3
    assert pd.isna(redacted["note"].iloc[3])


def test_sentiment_corpus_urls_are_found_and_redacted() -> None:
    texts = load_builtin("sentiment").frames["all"]["text"]
    urls = texts.str.extract(r"(https?://t\.co/\w{6,})", expand=False)
    with_url = urls.dropna().index[:150]
    rows = pd.concat([texts.loc[with_url], texts.drop(with_url).iloc[:150]]).to_frame()

    counts = pii.scan(rows, ["text"])
    assert counts["text"]["URL"] >= len(with_url)

    redacted, _ = pii.redact(rows, ["text"])
    sample = urls.loc[with_url[0]]
    assert sample in rows.loc[with_url[0], "text"]
    assert sample not in redacted.loc[with_url[0], "text"]
    assert "<URL>" in redacted.loc[with_url[0], "text"]
    assert not redacted["text"].str.contains(r"https?://t\.co/\w{6,}").any()


def test_policy_allow_returns_the_same_frame() -> None:
    frame = planted_frame()
    out, summary = pii.apply_policy(frame, "allow", None)
    assert out is frame
    assert summary == {"policy": "allow", "columns": {}, "dropped_columns": []}


def test_policy_redact() -> None:
    frame = planted_frame()
    out, summary = pii.apply_policy(frame, "redact", ["note"])
    assert summary == {
        "policy": "redact",
        "columns": {"note": expected_counts()},
        "dropped_columns": [],
    }
    assert not out["note"].str.contains("jane.doe@example.com", regex=False).any()


def test_policy_drop_column_drops_only_columns_with_pii() -> None:
    frame = planted_frame()
    out, summary = pii.apply_policy(frame, "drop_column", None)
    assert list(out.columns) == ["id", "city", "score"]
    assert summary["dropped_columns"] == ["note"]
    assert summary["columns"] == {"note": expected_counts(), "city": {}}
    pd.testing.assert_frame_equal(out, frame.drop(columns=["note"]))


def test_policy_fail_names_the_column_and_counts() -> None:
    frame = planted_frame()
    with pytest.raises(DataError, match=r"column 'note' \(.*2 EMAIL_ADDRESS") as caught:
        pii.apply_policy(frame, "fail", None)
    assert "city" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_policy_fail_passes_clean_data() -> None:
    frame = pd.DataFrame({"note": CLEAN})
    out, summary = pii.apply_policy(frame, "fail", None)
    assert out is frame
    assert summary == {"policy": "fail", "columns": {"note": {}}, "dropped_columns": []}


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="did you mean 'redact'"):
        pii.apply_policy(planted_frame(), "redcat", None)


def test_missing_column_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"'nots' does not exist.*did you mean 'note'"):
        pii.scan(planted_frame(), ["nots"])


def test_numeric_column_is_a_data_error() -> None:
    with pytest.raises(DataError, match="'score' is not a text column"):
        pii.redact(planted_frame(), ["score"])
    with pytest.raises(DataError, match="'id' is not a text column"):
        pii.apply_policy(planted_frame(), "fail", ["id"])
