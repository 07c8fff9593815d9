import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from train.config import LABELS, FitConfig
from train.explain import contributions, label_coefficients, top_terms
from train.model import build_pipeline


@pytest.fixture(scope="module", params=["logreg", "svm", "nb", "sgd"])
def fitted_pipeline(request, tiny_rows) -> Pipeline:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None] * 3
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    config = FitConfig(min_df=1, analyzer="word", classifier=request.param)
    return build_pipeline(config).fit([str(r["text"]) for r in rows], y)


def test_top_terms_are_vocabulary_with_the_sign_of_their_weight(fitted_pipeline: Pipeline) -> None:
    coefficients = label_coefficients(fitted_pipeline)
    names = list(fitted_pipeline.named_steps["features"].get_feature_names_out())
    terms = top_terms(fitted_pipeline, LABELS, n=3)
    for index, label in enumerate(LABELS):
        for name, weight in terms[label]["positive"]:
            assert name in names
            assert weight == pytest.approx(coefficients[index, names.index(name)])
        positive = [w for _, w in terms[label]["positive"]]
        negative = [w for _, w in terms[label]["negative"]]
        assert min(positive) >= max(negative)
    assert any("诉讼" in name or "起诉" in name for name, _ in terms["lawsuits"]["positive"])


def test_contributions_come_from_the_paragraph(fitted_pipeline: Pipeline) -> None:
    (explained,) = contributions(fitted_pipeline, ["作家集体起诉公司侵犯版权"], LABELS, n=3)
    terms = [name for name, _ in explained["lawsuits"]]
    assert terms, "a lawsuit paragraph must have terms pushing it towards lawsuits"
    assert all(name.split("__", 1)[1] in "作家集体起诉公司侵犯版权".lower() or " " in name for name in terms)
    assert all(weight > 0 for _, weight in explained["lawsuits"])
