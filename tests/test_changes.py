"""What changed since the previous run, on the project's real records."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import LABELS, ROOT
from train.changes import PreviousRun, compare, dumps, first_run, loads, snapshot
from train.data import Record, load_dataset

SINCE = PreviousRun("a7d3a069736042c5affdb12021cda3e5", "logreg-both-C4", datetime(2025, 12, 7, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return load_dataset([ROOT / "data" / "paragraphs.jsonl"], LABELS).labeled


def test_snapshot_round_trips_through_the_artifact(records: list[Record]) -> None:
    snap = snapshot(records)
    assert len(snap) == len(records)
    assert loads(dumps(snap)) == snap


def test_unlabeled_records_are_not_in_the_snapshot(records: list[Record]) -> None:
    unlabeled = replace(records[0], labels=None)
    assert records[0].id not in snapshot([unlabeled, *records[1:]])


def test_same_records_change_nothing(records: list[Record]) -> None:
    snap = snapshot(records)
    changes = compare(SINCE, snap, snapshot(reversed(records)), "topic-tagger")
    assert not (changes.added or changes.removed or changes.relabeled or changes.edited)
    assert changes.describe() == (
        f"since run a7d3a069 (logreg-both-C4, 2025-12-07 09:00 UTC): same {len(records)} records and labels"
    )
    assert all(str(count) == "0" for count in changes.per_label.values())


def test_added_removed_relabeled_and_edited(records: list[Record]) -> None:
    before = snapshot(records)
    untagged = next(r for r in records if r.labels == ())
    exodus = next(r for r in records if r.labels == ("talent_exodus",))
    gone = next(r for r in records if r.labels and r.id not in (untagged.id, exodus.id))
    after = [
        replace(untagged, labels=("finance",)),  # relabeled: +finance
        replace(exodus, labels=("competition", "talent_exodus")),  # relabeled: +competition
        *(r for r in records if r.id not in (untagged.id, exodus.id, gone.id)),  # gone: removed
        Record("new:1", "新一轮融资完成，估值翻倍", ("finance",), source="authored"),  # added: +finance
    ]
    edited = next(r for r in records if r.id not in (untagged.id, exodus.id, gone.id))
    after = [replace(r, text=r.text + "。") if r.id == edited.id else r for r in after]

    changes = compare(SINCE, before, snapshot(after), "topic-tagger")

    assert changes.added == ("new:1",)
    assert changes.removed == (gone.id,)
    assert set(changes.relabeled) == {untagged.id, exodus.id}
    assert changes.edited == (edited.id,)
    assert changes.per_label["finance"].gained == 2
    assert changes.per_label["competition"].gained == 1
    for label in gone.labels or ():
        assert changes.per_label[label].lost >= 1
    assert changes.n_records == len(records)


def test_describe_reads_like_the_issue_asks(records: list[Record]) -> None:
    before = snapshot(records)
    lawsuits = [r for r in records if r.labels == ()][:3]
    after = [replace(r, labels=("lawsuits",)) if r in lawsuits else r for r in records]
    after += [Record(f"new:{i}", f"新段落{i}", ("finance",), source="authored") for i in range(12)]
    now = SINCE.started + timedelta(hours=2, minutes=5)

    line = compare(SINCE, before, snapshot(after), "topic-tagger").describe(now)

    assert line == "since run a7d3a069 (logreg-both-C4, 2 h ago): +12 records, 3 relabeled; finance +12, lawsuits +3"


def test_tags_name_every_count_and_label(records: list[Record]) -> None:
    before = snapshot(records)
    first, *rest = records
    changes = compare(SINCE, before, snapshot(rest), "topic-tagger")
    tags = changes.tags()
    assert tags["diff.previous_run"] == SINCE.run_id
    assert (tags["diff.added"], tags["diff.removed"], tags["diff.relabeled"], tags["diff.edited"]) == (
        "0",
        "1",
        "0",
        "0",
    )
    assert {f"diff.label.{label}" for label in LABELS} <= set(tags)
    for label in first.labels or ():
        assert tags[f"diff.label.{label}"] == "−1"
    assert tags["diff.summary"].startswith("since run a7d3a069 (logreg-both-C4, 2025-12-07 09:00 UTC): −1 record")


def test_first_run(records: list[Record]) -> None:
    changes = first_run("topic-tagger", snapshot(records))
    assert changes.describe(datetime.now(UTC)) == "first run of experiment topic-tagger"
    assert changes.tags() == {"diff.summary": "first run of experiment topic-tagger", "diff.previous_run": "none"}


def test_an_artifact_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"labels.jsonl:2: not a labels record"):
        loads('{"id": "a:1", "labels": [], "text": "ab"}\n{"id": "a:2"}\n')
