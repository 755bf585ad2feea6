"""The score: a pure function of the named features (answer/features.py) and fitted weights.

The weights, the margins that decide which blocks follow the opening, and the abstention model
are fitted by ``yibao fit`` (eval/fit.py) and read from one JSON file (``YIBAO_ANSWER_MODEL``,
default answer/model.json), which also records what they were fitted on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from answer.features import FEATURES

# The evidence abstention weighs (answer/confidence.py).
EVIDENCE: tuple[str, ...] = ("cosine", "unit_cosine", "coverage", "shape")


@dataclass(frozen=True)
class AnswerModel:
    # One weight per name in FEATURES.
    weights: tuple[float, ...]
    # A block within ``margin`` of the opening's score is quoted beside it; the sentence that
    # reads on from the opening within ``next_margin``; another source's block that gives one
    # more way, place or kind within ``gather_margin``.
    margin: float
    next_margin: float
    gather_margin: float
    # Logistic regression over EVIDENCE; the answer abstains below ``threshold``.
    abstain_weights: tuple[float, ...]
    abstain_bias: float
    threshold: float
    about: dict = field(default_factory=dict)

    @property
    def vector(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float64)

    def to_dict(self) -> dict:
        return {
            "about": self.about,
            "weights": dict(zip(FEATURES, self.weights, strict=True)),
            "margin": self.margin,
            "next_margin": self.next_margin,
            "gather_margin": self.gather_margin,
            "abstain": {
                "weights": dict(zip(EVIDENCE, self.abstain_weights, strict=True)),
                "bias": self.abstain_bias,
                "threshold": self.threshold,
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> AnswerModel:
        weights, abstain = data["weights"], data["abstain"]
        missing = [n for n in FEATURES if n not in weights] + [
            n for n in EVIDENCE if n not in abstain["weights"]
        ]
        if missing:
            raise ValueError(f"answer model lacks weights for {', '.join(missing)}: fit it again (yibao fit)")
        return cls(
            weights=tuple(float(weights[n]) for n in FEATURES),
            margin=float(data["margin"]),
            next_margin=float(data["next_margin"]),
            gather_margin=float(data["gather_margin"]),
            abstain_weights=tuple(float(abstain["weights"][n]) for n in EVIDENCE),
            abstain_bias=float(abstain["bias"]),
            threshold=float(abstain["threshold"]),
            about=data.get("about", {}),
        )


@lru_cache(maxsize=4)
def load_model(path: Path) -> AnswerModel:
    try:
        return AnswerModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the answer model {path}: {exc}") from None


def write_model(model: AnswerModel, path: Path) -> None:
    path.write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def score(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each block's score: its features weighed. Only differences between the blocks of one
    question matter; the margins are in the same units."""
    return features @ weights


def probability(evidence: dict[str, float], model: AnswerModel) -> float:
    """How likely the passages answer the question at all, 0..1."""
    z = model.abstain_bias + sum(
        w * evidence.get(n, 0.0) for n, w in zip(EVIDENCE, model.abstain_weights, strict=True)
    )
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))
