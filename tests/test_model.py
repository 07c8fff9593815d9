"""The scikit-learn pipeline that training fits."""

import numpy as np

from tests.conftest import LABELS
from train.config import FitConfig
from train.model import TopicModel, build_pipeline


def test_pipeline_is_normalize_features_classifier(tiny_rows) -> None:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None]
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    pipeline = build_pipeline(FitConfig(min_df=1)).fit([str(r["text"]) for r in rows], y)
    assert [name for name, _ in pipeline.steps] == ["normalize", "features", "clf"]
    model = TopicModel(pipeline, LABELS, np.full(len(LABELS), 0.5))
    scores = model.scores(["作家集体起诉公司", "軟銀領投新一輪融資"])
    assert scores.shape == (2, len(LABELS)) and ((scores >= 0) & (scores <= 1)).all()
    assert model.decide(scores).dtype == bool
