import numpy as np
import pytest

from tests.conftest import LABELS
from train.config import FitConfig
from train.explain import contributions, top_terms
from train.export import to_scorer
from train.model import TopicModel, build_pipeline
from train.scorer import Scorer


@pytest.fixture(scope="module", params=["logreg", "svm", "nb", "sgd"])
def scorer(request, tiny_rows) -> Scorer:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None] * 3
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    config = FitConfig(min_df=1, analyzer="word", classifier=request.param)
    pipeline = build_pipeline(config).fit([str(r["text"]) for r in rows], y)
    return to_scorer(TopicModel(pipeline, LABELS, np.full(len(LABELS), 0.5)))


def test_top_terms_are_vocabulary_with_the_sign_of_their_weight(scorer: Scorer) -> None:
    coefficients = scorer.coefficients()
    names = list(scorer.feature_names())
    terms = top_terms(scorer, n=3)
    for index, label in enumerate(LABELS):
        for name, weight in terms[label]["positive"]:
            assert weight == pytest.approx(coefficients[index, names.index(name)])
        positive = [w for _, w in terms[label]["positive"]]
        negative = [w for _, w in terms[label]["negative"]]
        assert min(positive) >= max(negative)
    assert any("诉讼" in name or "起诉" in name for name, _ in terms["lawsuits"]["positive"])


def test_contributions_come_from_the_paragraph(scorer: Scorer) -> None:
    text = "作家集体起诉公司侵犯版权"
    (explained, other) = contributions(scorer, scorer.features([text, "点击关注"]), n=3)
    terms = [name for name, _ in explained["lawsuits"]]
    assert terms, "a lawsuit paragraph must have terms pushing it towards lawsuits"
    assert all(name.split("__", 1)[1] in text or " " in name for name in terms)
    assert all(weight > 0 for _, weight in explained["lawsuits"])
    assert not any(name.split("__", 1)[1] in text for name, _ in other["lawsuits"])
