"""The labeled corpus itself: our own words, the coverage the model needs, no duplicates."""

from collections import Counter
from itertools import combinations

import pytest

from tests.conftest import LABELS, ROOT
from train.data import Record, near_duplicates, scan, seed_paragraphs, shared_runs


@pytest.fixture(scope="module")
def records() -> list[Record]:
    found, problems = scan([ROOT / "data" / "paragraphs.jsonl", ROOT / "data" / "authored"], LABELS)
    assert problems == []
    return found


@pytest.fixture(scope="module")
def authored(records: list[Record]) -> list[Record]:
    return [r for r in records if r.source == "authored"]


def test_no_authored_paragraph_copies_15_characters(records: list[Record]) -> None:
    copies = shared_runs(records, seed_paragraphs(ROOT / "seeds"))
    assert copies == [], copies[:5]


def test_shared_runs_catches_a_copy() -> None:
    seed = [("s:1", "OpenAI首席执行官山姆·奥特曼被董事会罢免")]
    copied = Record("authored:x:1", "据报道，OpenAI首席执行官山姆·奥特曼被罢免", (), "authored")
    fresh = Record("authored:x:2", "董事会周五宣布奥特曼离任", (), "authored")
    assert [(a, b) for a, b, _ in shared_runs([copied, fresh], seed)] == [("authored:x:1", "s:1")]


def test_no_near_duplicate_authored_records(authored: list[Record]) -> None:
    assert near_duplicates(authored) == []


def test_authored_records_carry_source_script_and_batch_ids(authored: list[Record]) -> None:
    for r in authored:
        assert r.id.startswith("authored:") and r.id.count(":") == 2
        assert r.script in ("simplified", "traditional")
        assert r.labels is not None


def test_coverage_targets(authored: list[Record]) -> None:
    labels = Counter(label for r in authored for label in r.labels or ())
    pairs = Counter(pair for r in authored for pair in combinations(r.labels or (), 2))
    assert len(authored) >= 1500
    assert min(labels[label] for label in LABELS) >= 250
    assert sum(not r.labels for r in authored) >= 400
    assert all(pairs[pair] > 0 for pair in combinations(LABELS, 2))
    assert 0.10 <= sum(len(r.labels or ()) > 1 for r in authored) / len(authored) <= 0.25
    assert sum(r.script == "traditional" for r in authored) / len(authored) >= 0.25


def test_every_batch_has_every_label_and_negatives(authored: list[Record]) -> None:
    by_batch: dict[str, Counter[str]] = {}
    for r in authored:
        by_batch.setdefault(r.group, Counter()).update(r.labels or ("(none)",))
    assert len(by_batch) >= 15
    for batch, counts in by_batch.items():
        assert all(counts[label] >= 5 for label in (*LABELS, "(none)")), batch
