import json
from pathlib import Path

import pytest

from tests.conftest import LABELS, write_jsonl
from train.data import build, load_dataset, near_duplicates, relabel, scan, stats
from train.data import write_jsonl as write_records
from train.errors import DataError


def _problems(path: Path) -> list[str]:
    return [str(p) for p in scan([path], LABELS)[1]]


def test_valid_file_loads_with_labels_in_canonical_order(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a:1", "text": "x", "labels": ["lawsuits", "finance"]}])
    (record,) = load_dataset([path], LABELS).records
    assert record.labels == ("finance", "lawsuits")
    assert record.group == "a"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a:1", "text": "x", "labels": [', "invalid JSON"),
        ('{"id": "a:2", "text": "x", "labels": ["gossip"]}', "record 'a:2': unknown label 'gossip'"),
        ('{"id": "a:1", "text": "y", "labels": []}', "duplicate id 'a:1' (first at"),
        ('{"id": "a:2", "text": "   ", "labels": []}', "record 'a:2' has empty 'text'"),
        ('{"text": "x", "labels": []}', "missing or empty 'id'"),
        ('["not", "an", "object"]', "expected a JSON object"),
    ],
)
def test_each_problem_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a:1", "text": "x", "labels": []}\n' + line + "\n", encoding="utf-8")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:2: {message}")
    with pytest.raises(DataError, match=r"a\.jsonl:2:"):
        load_dataset([path], LABELS)


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"id": "a:1", "text": "x", "labels": []}\n{"id": "\xff"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not UTF-8"):
        scan([path], LABELS)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "win.jsonl"
    path.write_bytes('\ufeff{"id": "a:1", "text": "文字", "labels": []}\r\n'.encode())
    records, problems = scan([path], LABELS)
    assert problems == []
    assert records[0].text == "文字"


def test_missing_empty_and_directory_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_dataset([tmp_path / "nope.jsonl"], LABELS)
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="holds no records"):
        load_dataset([tmp_path / "empty.jsonl"], LABELS)
    (tmp_path / "dir").mkdir()
    with pytest.raises(DataError, match=r"no \.jsonl files"):
        load_dataset([tmp_path / "dir"], LABELS)


def test_directory_expands_to_its_jsonl_files(tmp_path: Path) -> None:
    folder = tmp_path / "authored"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", [{"id": "b:1", "text": "y", "labels": []}])
    write_jsonl(folder / "a.jsonl", [{"id": "a:1", "text": "x", "labels": None}])
    dataset = load_dataset([folder], LABELS)
    assert [r.id for r in dataset.records] == ["a:1", "b:1"]
    assert dataset.n_unlabeled == 1
    assert len(dataset.labeled) == 1


def test_build_keeps_labels_adds_new_lines_and_keeps_orphans(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "art.txt").write_text("第一段\n\n第二段\n", encoding="utf-8")
    labeled = tmp_path / "paragraphs.jsonl"
    first = build(seeds, labeled, LABELS)
    assert [(r.id, r.labels) for r in first.records] == [("art:1", None), ("art:3", None)]
    write_records(
        labeled,
        [{"id": "art:1", "text": "第一段", "labels": ["finance"]}, {"id": "art:3", "text": "第二段", "labels": []}],
    )

    (seeds / "art.txt").write_text("第一段\n\n第二段改了\n第三段\n", encoding="utf-8")
    (seeds / "new.txt").write_text("新文章\n", encoding="utf-8")
    report = build(seeds, labeled, LABELS)
    by_id = {r.id: r for r in report.records}
    assert by_id["art:1"].labels == ("finance",)
    assert by_id["art:3"].labels is None and by_id["art:3"].text == "第二段改了"
    assert report.changed == ["art:3"]
    assert sorted(report.added) == ["art:4", "new:1"]
    assert [(o.id, o.text, o.labels) for o in report.orphans] == [("art:3", "第二段", ())]


def test_seed_data_is_fully_labeled_and_matches_seeds() -> None:
    root = Path(__file__).resolve().parent.parent
    report = build(root / "seeds", root / "data" / "paragraphs.jsonl", LABELS)
    assert report.added == [] and report.changed == [] and report.orphans == []
    assert all(r.labels is not None for r in report.records)


def test_stats_counts_labels_pairs_and_unlabeled(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"id": "s:1", "text": "a", "labels": ["finance", "lawsuits"]},
            {"id": "s:2", "text": "b", "labels": ["finance"]},
            {"id": "s:3", "text": "c", "labels": []},
            {"id": "s:4", "text": "d", "labels": None, "source": "authored", "script": "traditional"},
        ],
    )
    s = stats(load_dataset([path], LABELS).records, LABELS)
    assert (s.total, s.unlabeled, s.no_label, s.multi_label) == (4, 1, 1, 1)
    assert s.per_label["finance"] == 2
    assert s.pairs[("finance", "lawsuits")] == 1
    assert s.by_source == {"seed": 3, "authored": 1}
    assert s.by_script["traditional"] == 1


def test_near_duplicates_finds_copies_not_neighbours(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "n.jsonl",
        [
            {"id": "n:1", "text": "公司宣布完成新一轮融资，估值达到八百亿美元。", "labels": []},
            {"id": "n:2", "text": "公司宣布完成新一轮融资，估值达到八百亿美元！", "labels": []},
            {"id": "n:3", "text": "法院驳回了作家们提出的版权诉讼请求。", "labels": []},
        ],
    )
    pairs = near_duplicates(load_dataset([path], LABELS).records)
    assert [(a, b) for a, b, _ in pairs] == [("n:1", "n:2")]


def test_write_jsonl_is_readable_json(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    write_records(target, [{"id": "x:1", "text": "中文", "labels": None}])
    assert json.loads(target.read_text(encoding="utf-8")) == {"id": "x:1", "text": "中文", "labels": None}
    assert list(tmp_path.iterdir()) == [target]  # no temp file left behind


def test_relabel_rewrites_only_the_files_and_fields_it_must(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "a:1", "text": "甲", "labels": None, "note": "kept"}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "b:1", "text": "乙", "labels": []}])
    before = second.read_bytes()
    assert relabel([tmp_path], {"a:1": ["finance"]}) == [first]
    assert first.read_text(encoding="utf-8").splitlines() == [
        '{"id": "a:1", "text": "甲", "labels": ["finance"], "note": "kept"}'
    ]
    assert second.read_bytes() == before


def test_relabel_with_an_unknown_id_writes_nothing(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a:1", "text": "甲", "labels": None}])
    before = path.read_bytes()
    with pytest.raises(DataError, match="no record with id 'zz:9'"):
        relabel([path], {"a:1": ["finance"], "zz:9": []})
    assert path.read_bytes() == before


def test_relabel_names_a_broken_line_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a:1", "text": "甲", "labels": null}\n{"id": "a:2", "text"\n', encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"a\.jsonl:2: invalid JSON"):
        relabel([path], {"a:1": ["finance"]})
    assert path.read_bytes() == before
