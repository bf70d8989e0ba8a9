"""Which candidates enter the search, and why (the portfolio rule).

Every registered model family proposes its candidates for the task (see each
family's ``candidates``): the modality of the inputs (table, text, image),
the number of training rows and the time budget decide. In brief:

- every task gets a linear model (logistic or ridge regression; TF-IDF for
  text, pixels for images); tables also get gradient-boosted trees
  (LightGBM) in four settings;
- networks (``train/deep.py``) enter from 60 s of budget on tables and text,
  at any budget on images; text also gets a pretrained encoder, frozen and
  fine-tuned, when its estimated training time fits in half the budget. Its
  checkpoint is all-MiniLM-L6-v2 unless the environment variable
  ``TAILORML_MATCH_CHECKPOINT`` names another (a local folder or a Hugging
  Face Hub id): where a checkpoint lives is the machine's business, not the
  scenario's;
- a binary table task with a fairness limit also gets mitigated candidates:
  fairlearn's ExponentiatedGradient (under the limit's own constraint) and a
  reweighed network;
- ``max_epsilon`` keeps only the candidates of families that train with
  DP-SGD, in their private variants.

Candidates come in the families' registration order, so the cheap classical
ones come first and a tight budget still tries them.
"""

from __future__ import annotations

import os

from tailorml.config.scenario import FairnessConstraint
from tailorml.features.checkpoint import DEFAULT_CHECKPOINT
from tailorml.features.meta import FeatureMeta
from tailorml.models.family import FAMILIES, Candidate, Proposal, Task, modality

__all__ = ["Candidate", "build_portfolio", "modality"]

CHECKPOINT_ENV = "TAILORML_MATCH_CHECKPOINT"


def build_portfolio(
    metas: dict[str, FeatureMeta], rows: int, budget_s: float, max_epsilon: float | None = None,
    fairness: list[FairnessConstraint] | None = None, binary: bool = False,
    checkpoint: str | None = None,
) -> Proposal:  # fmt: skip
    """Candidates for this data and budget, and the reasons in words.

    ``checkpoint`` is the pretrained encoder that text candidates may use
    (default: ``$TAILORML_MATCH_CHECKPOINT``, else all-MiniLM-L6-v2).
    """
    kind = modality(metas)
    limit = fairness[0] if fairness and binary and kind == "table" and not max_epsilon else None
    task = Task(metas, rows, max(budget_s, 60) if max_epsilon else budget_s, max_epsilon, limit,
                checkpoint or os.environ.get(CHECKPOINT_ENV) or DEFAULT_CHECKPOINT)  # fmt: skip
    candidates, reasons, dropped = [], [], []
    for family in FAMILIES.values():
        proposed, why = family.candidates(task)
        if max_epsilon is not None and not family.capabilities.private:
            dropped += [c.name for c in proposed]
            continue
        candidates += proposed
        reasons += why
    texts = [name for name, meta in metas.items() if meta.type == "text"]
    if texts and kind == "table":
        reasons.append(
            f"Free-text columns in the table ({', '.join(texts)}): linear models read them as "
            "TF-IDF, networks with an LSTM; trees read the other columns only."
        )
    if max_epsilon is not None:
        reasons.append(f"max_epsilon {max_epsilon:g}: only candidates trained with DP-SGD "
                       f"enter; {', '.join(dropped)} have no differentially private variant "
                       "here and are excluded.")  # fmt: skip
    head = f"{rows:,} training rows of {kind} data, {budget_s:g} s budget"
    names = ", ".join(c.name for c in candidates)
    return candidates, [f"{head}: {names}.", *reasons]
