"""The decision rule on a binary classifier's probability: one threshold, or
one per group of a sensitive attribute."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tailorml.records.audit import DecisionRule


@dataclass
class Decision:
    """Predict positive when p(positive) >= the row's threshold."""

    threshold: float = 0.5  # the global threshold (also for groups not listed)
    group_attribute: str | None = None  # the column whose value picks a group threshold
    group_thresholds: dict[str, float] = field(default_factory=dict)  # by group value

    def apply(self, proba_pos: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """0/1 decisions, (N,)."""
        limits = np.full(len(proba_pos), self.threshold)
        if self.group_thresholds:
            if groups is None:
                raise ValueError(
                    f"this model uses per-group thresholds on '{self.group_attribute}'; "
                    "the rows must include that column"
                )
            limits = np.asarray([self.group_thresholds.get(str(g), self.threshold) for g in groups])
        return (np.asarray(proba_pos) >= limits).astype(np.int64)

    def to_dict(self) -> DecisionRule:
        """The rule as saved (model.json, match.json, audit.json): its record."""
        return DecisionRule(
            threshold=float(self.threshold),
            group_attribute=self.group_attribute,
            group_thresholds={k: float(v) for k, v in self.group_thresholds.items()},
        )

    @classmethod
    def from_dict(cls, rule: DecisionRule) -> Decision:
        """The rule a saved record describes."""
        return cls(rule.threshold, rule.group_attribute, dict(rule.group_thresholds))
