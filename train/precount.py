"""Cross-validation that reads every paragraph once.

A fold's `TfidfVectorizer` keeps the terms of its training rows that pass `min_df` and
`max_df`, in sorted order, and weights them with idf from those rows. Counting every text
once, over the sorted vocabulary of all texts, and selecting each fold's columns from
those counts gives the same matrices bit for bit (`tests/test_precount.py`), so every
score is unchanged; `train fit` runs some 50 folds, and each stops re-running the
normaliser, the segmenter and scikit-learn's n-gram analyzers.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.pipeline import FeatureUnion, Pipeline


class SharedCounts:
    """Read-only counts that every clone of a fold transformer shares: `sklearn.clone` deep-copies plain params."""

    def __init__(self, matrix: Any) -> None:
        self.matrix = matrix

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedCounts:
        return self


class FoldTfidf(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A TfidfVectorizer over row numbers of precounted texts: vocabulary and idf from the rows it is fitted on."""

    def __init__(
        self,
        counts: SharedCounts,
        min_df: float = 1,
        max_df: float = 1.0,
        sublinear_tf: bool = False,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
    ) -> None:
        self.counts = counts
        self.min_df = min_df
        self.max_df = max_df
        self.sublinear_tf = sublinear_tf
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf

    def _rows(self, rows: Any) -> Any:
        return self.counts.matrix[np.asarray(rows, dtype=np.int64)]

    @staticmethod
    def _weighted(tfidf: TfidfTransformer, counts: Any) -> Any:
        counts.sort_indices()  # as CountVectorizer.transform leaves them
        return tfidf.transform(counts, copy=False)

    def fit(self, rows: Any, y: Any = None) -> FoldTfidf:
        self.fit_transform(rows)
        return self

    def fit_transform(self, rows: Any, y: Any = None, **fit_params: Any) -> Any:
        counts = self._rows(rows)
        n_rows = counts.shape[0]
        # As CountVectorizer.fit_transform and _limit_features decide which terms a fold keeps.
        high = self.max_df if isinstance(self.max_df, Integral) else self.max_df * n_rows
        low = self.min_df if isinstance(self.min_df, Integral) else self.min_df * n_rows
        if high < low:
            raise ValueError("max_df corresponds to < documents than min_df")
        frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        self.kept_ = np.flatnonzero((frequency <= high) & (frequency >= low))
        if len(self.kept_) == 0:
            raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
        kept = counts[:, self.kept_]
        self.tfidf_ = TfidfTransformer(
            norm=self.norm, use_idf=self.use_idf, smooth_idf=self.smooth_idf, sublinear_tf=self.sublinear_tf
        ).fit(kept)
        return self._weighted(self.tfidf_, kept)

    def transform(self, rows: Any) -> Any:
        return self._weighted(self.tfidf_, self._rows(rows)[:, self.kept_])


def counted(pipeline: Pipeline, texts: Sequence[str]) -> tuple[Pipeline, np.ndarray]:
    """The same (unfitted) model as `pipeline`, taking row numbers of `texts`; and those row numbers."""
    normalized = pipeline.named_steps["normalize"].transform(list(texts))
    parts = []
    for name, vectorizer in pipeline.named_steps["features"].transformer_list:
        every_term = CountVectorizer(analyzer=vectorizer.build_analyzer(), dtype=vectorizer.dtype)
        fold = FoldTfidf(
            SharedCounts(every_term.fit_transform(normalized).tocsr()),
            min_df=vectorizer.min_df,
            max_df=vectorizer.max_df,
            sublinear_tf=vectorizer.sublinear_tf,
            norm=vectorizer.norm,
            use_idf=vectorizer.use_idf,
            smooth_idf=vectorizer.smooth_idf,
        )
        parts.append((name, fold))
    features = FeatureUnion(parts, transformer_weights=pipeline.named_steps["features"].transformer_weights)
    model = Pipeline([("features", features), ("clf", pipeline.named_steps["clf"])])
    return model, np.arange(len(texts))
