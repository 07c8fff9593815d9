"""The plain-data scorer gives the scikit-learn pipeline's probabilities, to 1e-6, for every exportable kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LABELS, ROOT
from train.config import FitConfig
from train.data import label_matrix, load_dataset
from train.export import to_scorer
from train.model import TopicModel, build_pipeline
from train.scorer import KeyIndex, Scorer, from_bytes, to_bytes
from train.tokens import read_user_words

TOLERANCE = 1e-6
DATA = load_dataset([ROOT / "data" / "paragraphs.jsonl", ROOT / "data" / "authored", ROOT / "data" / "eval"], LABELS)
EVERY_TEXT = [r.text for r in DATA.records]

# Every analyzer and classifier kind the CLI offers, and the n-gram ranges tune searches.
CONFIGS = {
    "default": FitConfig(),
    "word": FitConfig(analyzer="word"),
    "char": FitConfig(analyzer="char", char_ngram_min=2, char_ngram_max=4),
    "svm": FitConfig(classifier="svm"),
    "nb": FitConfig(classifier="nb"),
    "sgd": FitConfig(classifier="sgd", sublinear_tf=False),
    "jieba-nohmm": FitConfig(tokenizer="jieba-nohmm", word_ngram_max=1, min_df=1),
}


def fit(config: FitConfig, n: int | None = None) -> TopicModel:
    records = [r for r in DATA.records if r.labels is not None][:n]
    pipeline = build_pipeline(config, read_user_words(ROOT / "data" / "userdict.txt"))
    pipeline.fit([r.text for r in records], np.asarray(label_matrix(records, LABELS)))
    return TopicModel(pipeline, LABELS, np.full(len(LABELS), 0.5))


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def pair(request: pytest.FixtureRequest) -> tuple[TopicModel, Scorer]:
    # The full data for the default; a third of it for the other kinds keeps the suite quick.
    model = fit(CONFIGS[request.param], None if request.param == "default" else 700)
    return model, from_bytes(to_bytes(to_scorer(model)), "test")  # through the file format, as predict reads it


def test_equal_probabilities_on_every_paragraph_in_data(pair: tuple[TopicModel, Scorer]) -> None:
    model, scorer = pair
    expected = model.scores(EVERY_TEXT)
    got = np.vstack([scorer.scores(EVERY_TEXT[i : i + 512]) for i in range(0, len(EVERY_TEXT), 512)])
    assert np.abs(got - expected).max() <= TOLERANCE
    assert (scorer.decide(got) == model.decide(expected)).all()


# Chinese, traditional, full-width, English, digits, punctuation, spaces of every kind, emoji, controls.
ALPHABET = st.one_of(
    st.sampled_from(list("诉讼融资离职安全竞争奥特曼軟體執行長輝達ＡＢＣ１２３，。！？、 \t\u3000\u00a0\u2028")),
    st.characters(codec="utf-8"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(ALPHABET, max_size=80), min_size=1, max_size=8))
def test_equal_probabilities_on_random_unicode(pair: tuple[TopicModel, Scorer], texts: list[str]) -> None:
    model, scorer = pair
    assert np.abs(scorer.scores(texts) - model.scores(texts)).max() <= TOLERANCE


def test_feature_values_equal_the_pipelines(pair: tuple[TopicModel, Scorer]) -> None:
    model, scorer = pair
    texts = EVERY_TEXT[:300]
    expected = model.pipeline[:-1].transform(texts).toarray()
    features = scorer.features(texts)
    got = np.zeros_like(expected)
    got[features.rows, features.columns] = features.values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)


def test_an_empty_batch_scores_nothing(pair: tuple[TopicModel, Scorer]) -> None:
    assert pair[1].scores([]).shape == (0, len(LABELS))


def test_key_index_finds_every_key_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**62, 5000))
    index = KeyIndex(keys, np.arange(len(keys)))
    probes = np.concatenate([keys, rng.integers(0, 2**62, 5000)])
    found, columns = index.lookup(probes)
    member = np.isin(probes, keys)
    assert sorted(found.tolist()) == np.flatnonzero(member).tolist()
    np.testing.assert_array_equal(keys[columns], probes[found])


def test_the_file_opens_without_pickle(tmp_path: Path, pair: tuple[TopicModel, Scorer]) -> None:
    path = tmp_path / "m.npz"
    path.write_bytes(to_bytes(pair[1]))
    with np.load(path, allow_pickle=False) as archive:  # every member is a plain array
        assert all(archive[name].dtype != object for name in archive.files)
