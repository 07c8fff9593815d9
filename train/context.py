"""Article context: each paragraph's scores blended with those of its article.

A reader labels a headline or a one-line transition ("这场诉讼可能是……") from the
article around it; the model sees one paragraph. Blending gives such a paragraph a
share of its article's topics:

    in_context = (1 - weight) * paragraph + weight * article

where `article` is the mean or the maximum of the article's paragraph scores, label by
label. A paragraph alone (no article, or an article of one) keeps its own scores
whatever the weight. Form and weight are chosen by CV grouped by article (`train.fit`),
never by paragraph: a held-out article's scores are then all made by a model that saw
none of it, as they will be for a new article. Plain numpy, for every inference path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Form = Literal["mean", "max"]
FORMS: tuple[Form, ...] = ("mean", "max")
# Past 0.6 a paragraph would be mostly its article.
WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


@dataclass(frozen=True)
class Context:
    """How much of its article a paragraph's scores take; weight 0 is off."""

    form: Form = "mean"
    weight: float = 0.0

    def __str__(self) -> str:
        return f"{self.form} x {self.weight:g}" if self.weight else "off"


OFF = Context()
CANDIDATES = (OFF, *(Context(form, weight) for form in FORMS for weight in WEIGHTS))


def article_numbers(articles: Sequence[str | None]) -> np.ndarray:
    """Each row's article as an integer; a row with no article is an article of its own."""
    keys = [f"\0{row}" if article is None else article for row, article in enumerate(articles)]  # \0: no id has it
    numbers: np.ndarray = np.unique(np.asarray(keys, dtype=object), return_inverse=True)[1]
    return numbers


def blend(scores: np.ndarray, article_of: np.ndarray, context: Context) -> np.ndarray:
    """Scores (n_rows, n_labels) blended with their article's mean or maximum scores."""
    if context.weight == 0.0 or len(scores) == 0:
        return scores
    _, article_of, sizes = np.unique(article_of, return_inverse=True, return_counts=True)
    pooled = np.zeros((len(sizes), scores.shape[1]))
    if context.form == "max":
        np.maximum.at(pooled, article_of, scores)
    else:
        np.add.at(pooled, article_of, scores)
        pooled /= sizes[:, None]
    blended: np.ndarray = (1.0 - context.weight) * scores + context.weight * pooled[article_of]
    return blended


def has_articles(article_of: np.ndarray) -> bool:
    """Whether any article has two paragraphs or more: otherwise context changes nothing."""
    return len(np.unique(article_of)) < len(article_of)
