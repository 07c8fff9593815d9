"""Article context: the blend, its choice by grouped CV, and every local path applying it alike."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import LABELS, ROOT, TRAIN
from train.context import OFF, Context, article_numbers, blend, has_articles
from train.data import article_of, load_dataset
from train.evaluate import choose_context, cross_fitted_context_decisions
from train.modelfile import load
from train.predict import MAX_ARTICLE, Paragraph, batches
from train.pyfunc import articles_of, tag_frame

SCORES = np.array([[0.9, 0.1], [0.5, 0.3], [0.2, 0.8], [0.6, 0.6]])


def test_blend_mixes_each_row_with_its_article_and_leaves_lone_rows_alone() -> None:
    article_of = article_numbers(["a", "a", None, "b"])
    mean = blend(SCORES, article_of, Context("mean", 0.5))
    np.testing.assert_allclose(mean[0], 0.5 * SCORES[0] + 0.5 * SCORES[:2].mean(axis=0))
    np.testing.assert_allclose(mean[2:], SCORES[2:])  # no article, and an article of one
    top = blend(SCORES, article_of, Context("max", 0.5))
    np.testing.assert_allclose(top[1], 0.5 * SCORES[1] + 0.5 * SCORES[:2].max(axis=0))
    assert blend(SCORES, article_of, OFF) is SCORES


def test_rows_without_an_article_are_each_their_own() -> None:
    numbers = article_numbers([None, None, "x", "x"])
    assert len(set(numbers)) == 3 and numbers[2] == numbers[3]
    assert not has_articles(article_numbers([None, None, "x"]))
    assert has_articles(numbers)


@pytest.mark.parametrize(
    ("record_id", "source", "article"),
    [
        ("article:tw-news-01:3", "article", "article:tw-news-01"),
        ("000_996867624d98d28b:7", "seed", "000_996867624d98d28b"),
        ("authored:cn-wire-1:4", "authored", None),
        ("42", "seed", None),
        (":3", "seed", None),
        (None, "seed", None),
    ],
)
def test_article_of_follows_the_id_convention(record_id: str | None, source: str, article: str | None) -> None:
    assert article_of(record_id, source) == article


def _headline_articles(n_articles: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic articles whose headline scores low, beside off-topic articles scoring a little higher:
    only the article around it can put the headline above the off-topic paragraphs."""
    scores, truth, articles = [], [], []
    for number in range(n_articles):
        topical = number % 2 == 0
        rows = [0.8, 0.8, 0.8, 0.8, 0.3] if topical else [0.35] * 5
        scores += rows
        truth += [topical] * 5
        articles += [number] * 5
    y = np.repeat(np.array(truth, dtype=int)[:, None], len(LABELS), axis=1)
    return np.repeat(np.array(scores)[:, None], len(LABELS), axis=1), y, np.array(articles)


def test_context_is_chosen_where_it_helps_and_off_where_it_does_not() -> None:
    scores, y, articles = _headline_articles()
    assert choose_context(scores, y, articles).weight > 0
    alone = np.arange(len(articles))  # no article context at all: nothing can help
    assert choose_context(scores, y, alone) == OFF


def test_cross_fitted_context_never_sees_its_own_fold() -> None:
    scores, y, articles = _headline_articles()
    fold_of = articles % 3  # whole articles per fold
    decisions, chosen = cross_fitted_context_decisions(scores, y, articles, fold_of)
    assert len(chosen) == 3 and all(c.weight > 0 for c in chosen)
    assert (decisions == y.astype(bool)).all()
    flipped = y.copy()
    flipped[fold_of == 0] = 1 - flipped[fold_of == 0]  # another truth for fold 0 only
    again, _ = cross_fitted_context_decisions(scores, flipped, articles, fold_of)
    np.testing.assert_array_equal(again[fold_of == 0], decisions[fold_of == 0])


def test_batches_keep_articles_whole_when_context_is_on(context_model: Path) -> None:
    model, _ = load(context_model)
    paragraphs = [Paragraph(f"{a}:{i}", "文本", article=f"{a}") for a in range(30) for i in range(7)]
    chunks = list(batches(model, paragraphs, size=50))
    assert sum(map(len, chunks)) == len(paragraphs) and len(chunks) > 1
    for chunk in chunks:
        assert chunk[0].id.endswith(":0") and chunk[-1].id.endswith(":6")
    long = [Paragraph(f"x:{i}", "文本", article="x") for i in range(MAX_ARTICLE + 3)]
    assert [len(c) for c in batches(model, long, size=50)] == [MAX_ARTICLE, 3]


@pytest.fixture(scope="module")
def article() -> list[str]:
    """The seed articles' 282 paragraphs, read as one long article (issue: a 200-paragraph one must hold)."""
    return [r.text for r in load_dataset([ROOT / "data" / "paragraphs.jsonl"], LABELS).records]


def _predict(model: Path, *args: str, stdin: str | None = None) -> list[dict[str, object]]:
    result = subprocess.run(
        [TRAIN, "predict", "--model", str(model), "--format", "jsonl", *args],
        input=stdin, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_predict_scores_an_article_in_its_context(context_model: Path, article: list[str], tmp_path: Path) -> None:
    model, _ = load(context_model)
    assert len(article) > 200
    path = tmp_path / "article.txt"
    path.write_text("\n".join(article) + "\n", encoding="utf-8")
    tagged = _predict(context_model, "--file", str(path))
    expected = model.scores(article, ["one"] * len(article))
    alone = model.scores(article)
    assert [t["scores"] for t in tagged] == [
        {label: round(float(s), 4) for label, s in zip(LABELS, row, strict=True)} for row in expected
    ]
    assert np.abs(expected - alone).max() > 0.05  # the context changed something
    assert [t["scores"] for t in _predict(context_model, "-", stdin="\n".join(article))] == [
        t["scores"] for t in tagged
    ]
    # A lone paragraph, as text or as a 1-paragraph article, is scored alone.
    (one,) = _predict(context_model, article[3])
    single = tmp_path / "single.txt"
    single.write_text(article[3], encoding="utf-8")
    assert _predict(context_model, "--file", str(single))[0]["scores"] == one["scores"]
    assert one["scores"] == {label: round(float(s), 4) for label, s in zip(LABELS, alone[3], strict=True)}


def test_jsonl_articles_and_the_pyfunc_agree_with_the_scorer(
    context_model: Path, article: list[str], tmp_path: Path
) -> None:
    model, _ = load(context_model)
    rows = [{"id": f"a:{i}", "text": t} for i, t in enumerate(article[:40])]
    rows += [{"id": f"b{i}", "text": t, "article": "b"} for i, t in enumerate(article[40:60])]
    rows += [{"text": t} for t in article[60:65]]  # no id, no article: alone
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    articles = ["a"] * 40 + ["b"] * 20 + [None] * 5
    expected = model.scores([r["text"] for r in rows], articles)
    want = [{label: round(float(s), 4) for label, s in zip(LABELS, row, strict=True)} for row in expected]
    assert [t["scores"] for t in _predict(context_model, "--file", str(path))] == want
    assert [t["scores"] for t in _predict(context_model, "--file", str(path), "--jobs", "2")] == want
    frame = pd.DataFrame(rows)
    assert articles_of(frame) == articles
    tagged = tag_frame(model, list(frame["text"]), articles_of(frame))
    np.testing.assert_allclose(tagged[list(LABELS)].to_numpy(), expected, atol=1e-12)
    assert list(tagged["labels"]) == [
        [lab for lab, on in zip(LABELS, r, strict=True) if on] for r in model.decide(expected)
    ]
