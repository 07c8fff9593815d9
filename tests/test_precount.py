"""Cross-validation on counts made once scores exactly as cross-validation on the texts."""

import numpy as np
import pytest

from tests.conftest import LABELS, ROOT
from train.config import FitConfig
from train.data import label_matrix, load_dataset
from train.evaluate import cross_fitted_decisions, cross_validate, stratified_splits
from train.metrics import compute_metrics
from train.model import build_pipeline
from train.precount import counted
from train.tokens import read_user_words

RECORDS = load_dataset([ROOT / "data" / "paragraphs.jsonl", ROOT / "data" / "authored"], LABELS).labeled[:900]


@pytest.mark.parametrize(
    "config",
    [FitConfig(), FitConfig(classifier="svm", analyzer="char", min_df=3), FitConfig(classifier="nb", max_df=0.5)],
    ids=["default", "svm-char", "nb-max-df"],
)
def test_the_same_out_of_fold_scores_and_metrics(config: FitConfig) -> None:
    texts = [r.text for r in RECORDS]
    y = np.asarray(label_matrix(RECORDS, LABELS))
    pipeline = build_pipeline(config, read_user_words(ROOT / "data" / "userdict.txt"))
    splits = [stratified_splits(y, 3, config.seed)]
    on_texts = cross_validate(pipeline, texts, y, splits, labels=LABELS)
    model, rows = counted(pipeline, texts)
    on_counts = cross_validate(model, rows, y, splits, labels=LABELS)
    np.testing.assert_allclose(on_counts.scores[0], on_texts.scores[0], rtol=0, atol=1e-12)
    decided = [cross_fitted_decisions(cv.scores[0], y, cv.folds[0]) for cv in (on_texts, on_counts)]
    assert compute_metrics(y, decided[0], LABELS) == compute_metrics(y, decided[1], LABELS)


def test_each_fold_keeps_the_terms_its_own_training_rows_pass() -> None:
    texts = ["诉讼 诉讼", "诉讼 融资", "融资 离职", "离职"]
    pipeline = build_pipeline(FitConfig(analyzer="word", min_df=2, max_df=1.0))
    model, rows = counted(pipeline, texts)
    fold = model.named_steps["features"].transformer_list[0][1]
    kept_on = {name: fold.fit(rows[train]).kept_.tolist() for name, train in (("first", [0, 1]), ("last", [2, 3]))}
    assert kept_on["first"] != kept_on["last"]
    reference = pipeline.named_steps["features"].transformer_list[0][1]
    for train in ([0, 1], [2, 3], [0, 1, 2, 3]):
        vocabulary = sorted(
            reference.fit([pipeline.named_steps["normalize"].transform(texts)[i] for i in train]).vocabulary_
        )
        assert len(fold.fit(rows[train]).kept_) == len(vocabulary)
