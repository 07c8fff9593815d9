"""Export refuses what the plain scorer cannot reproduce exactly."""

import numpy as np
import pytest

from tests.conftest import LABELS
from train.config import FitConfig
from train.export import NotExportable, check_exportable, to_scorer
from train.model import TopicModel, build_pipeline


def fitted(config: FitConfig, rows: list[dict[str, object]]) -> TopicModel:
    labeled = [r for r in rows if r["labels"] is not None]
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in labeled])  # type: ignore[operator]
    pipeline = build_pipeline(config).fit([str(r["text"]) for r in labeled], y)
    return TopicModel(pipeline, LABELS, np.full(len(LABELS), 0.5))


def test_character_ngrams_from_4_are_refused_before_training() -> None:
    with pytest.raises(NotExportable, match="--char-ngram-min 4"):
        check_exportable(FitConfig(char_ngram_min=4, char_ngram_max=5))
    check_exportable(FitConfig(analyzer="word", char_ngram_min=4, char_ngram_max=5))  # no character part


def test_a_label_never_seen_in_training_is_refused(tiny_rows) -> None:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None and "lawsuits" not in r["labels"]]
    with pytest.warns(UserWarning, match="Label not 4 is present in all training examples"):
        model = fitted(FitConfig(min_df=1), rows)
    with pytest.raises(NotExportable, match="label 'lawsuits': its model did not see both classes"):
        to_scorer(model)


def test_an_unknown_classifier_is_refused(tiny_rows) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import RidgeClassifier

    model = fitted(FitConfig(min_df=1), tiny_rows)
    model.pipeline.named_steps["clf"].estimators_[0] = RidgeClassifier().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(NotExportable, match="RidgeClassifier cannot be exported exactly"):
        to_scorer(model)
