"""``explanations.json``: each explained row's attributions toward its decision,
and the permutation importance of every input."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag

from tailorml.records.base import Part, Record

Cell = bool | int | float | str | None  # a table cell as JSON (None: missing)


class ValueAttribution(Part):
    """A table feature (number, binary, category): the row's value and its score."""

    type: str
    score: float
    value: Cell


class TextAttribution(Part):
    """A text feature: the tokens the model read and each one's score."""

    type: Literal["text"]
    score: float
    tokens: list[str]
    scores: list[float]


class ImageAttribution(Part):
    """An image feature: the attribution map and the image, both (H, W)."""

    type: Literal["image"]
    score: float
    map: list[list[float]]
    image: list[list[float]]


class AudioAttribution(Part):
    """An audio feature: its attribution over time × frequency.

    Attributes:
        map: ``(T, F)`` attribution per time step and band (a long clip's
            steps summed in groups, see ``step_seconds``); None for a model
            that reads statistics of the whole clip (a linear model's).
        frames: ``(T, F)`` the spectrogram the model read (normalised where
            the model normalises), averaged over the same groups; None with ``map``.
        bands: ``(F,)`` attribution per mel band or coefficient, over the clip.
        band_kind: ``mel`` (log-mel bands) or ``mfcc`` (cepstral coefficients).
        step_seconds: seconds between the starts of two time steps.
    """

    type: Literal["audio"]
    score: float
    map: list[list[float]] | None
    frames: list[list[float]] | None
    bands: list[float]
    band_kind: Literal["mel", "mfcc"]
    step_seconds: float


def kind(feature: Any) -> str:
    """Which attribution a feature holds, from its ``type`` (errors then name one kind)."""
    name = feature.get("type") if isinstance(feature, dict) else getattr(feature, "type", None)
    return name if name in ("image", "text", "audio") else "table"


Attribution = Annotated[
    Annotated[ImageAttribution, Tag("image")]
    | Annotated[AudioAttribution, Tag("audio")]
    | Annotated[TextAttribution, Tag("text")]
    | Annotated[ValueAttribution, Tag("table")],
    Discriminator(kind),
]


class RowExplanation(Part):
    """Why one row was decided as it was.

    Attributes:
        prediction: the decided label, or the value for regression.
        target: the decided class index (None for regression).
        output: the explained output (logit, log-odds or standardised value).
        baseline_output: the same output at the baseline (or the bias).
        convergence_delta: attributions' sum minus (output − baseline); None when exact.
        method: ``integrated_gradients``, ``linear`` or ``tree_shap``.
    """

    row: int
    prediction: str | float
    target: int | None
    output: float
    baseline_output: float
    convergence_delta: float | None
    method: str
    features: dict[str, Attribution]

    def top(self, count: int = 3) -> list[tuple[str, float]]:
        """The ``count`` features with the largest effect, as (name, score)."""
        ranked = sorted(self.features.items(), key=lambda item: -abs(item[1].score))
        return [(name, feature.score) for name, feature in ranked[:count]]


class Importance(Part):
    """The drop in the headline metric when one input is shuffled: mean and std."""

    mean: float
    std: float


class ExplanationsRecord(Record):
    """``explanations.json``: every explained row, and the importance ranking (if run)."""

    rows: list[RowExplanation]
    permutation_importance: dict[str, Importance] | None
