"""`train data add`: real article files in, unlabeled records out, through the CLI and the functions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import LABELS, ROOT, write_jsonl
from train.cli import app
from train.data import load_dataset
from train.errors import DataError
from train.ingest import duplicate_key, paragraphs_of_txt, read_article

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
ARTICLES = sorted(FIXTURES.iterdir())
runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working directory, with the label set."""
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "data" / "labels.toml", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _add(*paths: Path | str) -> tuple[int, str]:
    result = runner.invoke(app, ["data", "add", *map(str, paths)])
    return result.exit_code, result.output


def _written(project: Path) -> dict[str, list[dict[str, object]]]:
    added = project / "data" / "added"
    return {
        path.name: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for path in sorted(added.glob("*.jsonl"))
    }


# --- reading each format --------------------------------------------------------------


def test_txt_one_paragraph_per_line() -> None:
    article = read_article(FIXTURES / "lines.txt")
    assert article.name == "lines-7f0a8ba5"
    assert article.paragraphs[0] == "国产芯片厂商发布训练专用加速卡"
    assert len(article.paragraphs) == 4
    assert article.ids is None


def test_txt_hard_wrapped_blocks_are_joined() -> None:
    article = read_article(FIXTURES / "wrapped.txt")
    assert article.name == "wrapped-3ad79c44"
    assert article.paragraphs == (
        "开源社区围绕模型许可证展开争论",
        "一个知名的开源基金会本周发布报告，认为许多自称开源的大模型只公开了权重，没有公开训练数据和训练代码，"
        "不应当使用开源这个名称。",
        "报告建议开发者在发布模型时写清楚 open weights license 的具体条款，"
        "说明是否允许商业使用，以及是否限制用户规模。",
        "也有研究者认为，要求公开全部训练数据并不现实，因为其中可能包含受版权保护的内容和个人信息。",
    )


def test_txt_blank_lines_between_single_lines_keep_a_paragraph_per_line() -> None:
    # A pasted page: blank lines between paragraphs and one odd block of several lines (a menu).
    lines = ["标题", "", "第一段。", "", "首页", "登录", "", "第二段。", "", "第三段。"]
    assert paragraphs_of_txt(lines) == ["标题", "第一段。", "首页", "登录", "第二段。", "第三段。"]


def test_markdown_keeps_prose_and_drops_code_images_urls_html_tables() -> None:
    paragraphs = read_article(FIXTURES / "article.md").paragraphs
    assert paragraphs[0] == "云厂商下调大模型调用价格"
    assert paragraphs[1] == (
        "多家云服务商本周同时宣布下调大模型接口的调用价格，最大降幅接近七成。价格表显示，输入和输出的计费标准都有调整。"
    )
    assert "中小企业的试用门槛随之降低" in paragraphs
    text = "\n".join(paragraphs)
    for dropped in ("example.com", "print", "降价示意图", "广告", "厂商 |", "60%"):
        assert dropped not in text


def test_html_main_text_only() -> None:
    paragraphs = read_article(FIXTURES / "page.html").paragraphs
    assert paragraphs[0] == "智能机器人公司完成新一轮融资"
    assert any(p.startswith("一家专注于仓储机器人的创业公司") for p in paragraphs)
    assert any(p.startswith("不过也有投资人认为") for p in paragraphs)
    text = "\n".join(paragraphs)
    for boilerplate in ("Cookie", "首页", "登录", "版权所有", "相关阅读", "联系我们"):
        assert boilerplate not in text


def test_jsonl_keeps_its_ids() -> None:
    article = read_article(FIXTURES / "batch.jsonl")
    assert article.ids == ("wire-7:1", "wire-7:2", "wire-8:1")
    assert len(article.paragraphs) == 3


def test_duplicate_key_is_the_model_normalisation() -> None:
    assert duplicate_key("ＯｐｅｎＡＩ　發佈新模型 \n") == duplicate_key("openai 发布新模型")


# --- the command ------------------------------------------------------------------------


def test_add_writes_one_unlabeled_file_per_article(project: Path) -> None:
    code, output = _add(*ARTICLES)
    assert code == 0, output
    assert output == "added 21 paragraphs from 5 files (0 duplicates skipped) to data/added/\n"
    written = _written(project)
    assert set(written) == {f"{read_article(path).name}.jsonl" for path in ARTICLES}
    lines = written["lines-7f0a8ba5.jsonl"]
    assert [row["id"] for row in lines] == [f"lines-7f0a8ba5:{n}" for n in (1, 2, 3, 4)]
    assert lines[0] == {
        "id": "lines-7f0a8ba5:1",
        "text": "国产芯片厂商发布训练专用加速卡",
        "labels": None,
        "source": "added",
    }
    batch = next(rows for name, rows in written.items() if name.startswith("batch-"))
    assert [row["id"] for row in batch] == ["wire-7:1", "wire-7:2", "wire-8:1"]


def test_ids_are_stable_across_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        code, output = _add(*ARTICLES)
        assert code == 0, output
        outputs.append(_written(tmp_path / run))
    assert outputs[0] == outputs[1]


def test_adding_again_adds_nothing(project: Path) -> None:
    assert _add(*ARTICLES)[0] == 0
    before = {path: path.read_bytes() for path in (project / "data" / "added").iterdir()}
    code, output = _add(*ARTICLES)
    assert code == 0, output
    assert output == "added 0 paragraphs from 5 files (21 duplicates skipped) to data/added/\n"
    assert {path: path.read_bytes() for path in (project / "data" / "added").iterdir()} == before


def test_traditional_copy_of_an_existing_record_is_skipped(project: Path) -> None:
    write_jsonl(
        project / "data" / "paragraphs.jsonl",
        [{"id": "s:1", "text": "国产芯片厂商发布训练专用加速卡", "labels": ["competition"]}],
    )
    article = project / "traditional.txt"
    article.write_text("國產晶片廠商發佈訓練專用加速卡\n這款加速卡先供應資料中心客戶。\n", encoding="utf-8")
    code, output = _add(article)
    assert code == 0, output
    assert "added 1 paragraph from 1 file (1 duplicate skipped)" in output
    ((name, rows),) = _written(project).items()
    assert [row["id"] for row in rows] == [f"{name.removesuffix('.jsonl')}:2"]  # numbered in the article


def test_a_held_out_paragraph_is_never_added_for_training(project: Path) -> None:
    (project / "data" / "eval").mkdir()
    write_jsonl(
        project / "data" / "eval" / "heldout.jsonl",
        [{"id": "h:1", "text": "监管机构要求模型公司披露训练数据来源", "labels": ["lawsuits"]}],
    )
    article = project / "reprint.txt"
    article.write_text("监管机构要求模型公司披露训练数据来源\n", encoding="utf-8")
    code, output = _add(article)
    assert code == 0, output
    assert "added 0 paragraphs from 1 file (1 duplicate skipped)" in output
    assert _written(project) == {}


def test_duplicates_within_the_batch_are_skipped(project: Path) -> None:
    again = project / "again.md"
    again.write_text("# 国产芯片厂商发布训练专用加速卡\n\n一段新的文字，讲的是另一件事。\n", encoding="utf-8")
    code, output = _add(FIXTURES / "lines.txt", again, FIXTURES / "lines.txt")
    assert code == 0, output
    assert "added 5 paragraphs from 3 files (5 duplicates skipped)" in output


def test_jsonl_ids_taken_by_another_text_are_prefixed(project: Path) -> None:
    write_jsonl(project / "data" / "paragraphs.jsonl", [{"id": "wire-7:1", "text": "另一段文字", "labels": None}])
    code, output = _add(FIXTURES / "batch.jsonl")
    assert code == 0, output
    ((name, rows),) = _written(project).items()
    prefix = name.removesuffix(".jsonl")
    assert [row["id"] for row in rows] == [f"{prefix}:wire-7:1", f"{prefix}:wire-7:2", f"{prefix}:wire-8:1"]


def test_a_trimmed_article_file_is_completed_not_replaced(project: Path) -> None:
    assert _add(FIXTURES / "lines.txt")[0] == 0
    path = project / "data" / "added" / "lines-7f0a8ba5.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["labels"] = ["competition"]
    write_jsonl(path, rows[:2])
    code, output = _add(FIXTURES / "lines.txt")
    assert code == 0, output
    assert "added 2 paragraphs from 1 file (2 duplicates skipped)" in output
    assert _written(project)["lines-7f0a8ba5.jsonl"] == [rows[0], rows[1], rows[2], rows[3]]


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad input, and the start of the one line that names it."""
    (folder / "empty.txt").write_text(" \n\n", encoding="utf-8")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "gbk.txt").write_bytes("第一段是UTF-8\n".encode() + "第二段不是".encode("gbk"))
    (folder / "nav.html").write_text(
        "<html><body><nav><a href='/'>首页</a> <a href='/ai'>人工智能</a></nav><footer>版权所有</footer></body></html>",
        encoding="utf-8",
    )
    (folder / "article.pdf").write_bytes(b"%PDF-1.7")
    (folder / "bad.jsonl").write_text('{"id": "a", "text": "第一段"}\n{"id": "b", "text": \n', encoding="utf-8")
    (folder / "noid.jsonl").write_text('{"text": "没有编号的一段"}\n', encoding="utf-8")
    return {
        "empty": (folder / "empty.txt", f"{folder / 'empty.txt'}: empty file"),
        "binary": (folder / "image.txt", f"{folder / 'image.txt'}: binary file"),
        "not utf-8": (folder / "gbk.txt", f"{folder / 'gbk.txt'}:2: not UTF-8 text"),
        "no main text": (folder / "nav.html", f"{folder / 'nav.html'}: no main text found"),
        "unsupported": (folder / "article.pdf", f"{folder / 'article.pdf'}: unsupported file type '.pdf'"),
        "missing": (folder / "absent.txt", f"{folder / 'absent.txt'}: no such file"),
        "bad jsonl line": (folder / "bad.jsonl", f"{folder / 'bad.jsonl'}:2: invalid JSON"),
        "jsonl without id": (folder / "noid.jsonl", f"{folder / 'noid.jsonl'}:1: missing or empty 'id'"),
    }


@pytest.mark.parametrize(
    "kind",
    ["empty", "binary", "not utf-8", "no main text", "unsupported", "missing", "bad jsonl line", "jsonl without id"],
)
def test_a_bad_input_is_one_line_exit_1_and_nothing_written(project: Path, kind: str) -> None:
    bad, message = _bad_inputs(project)[kind]
    code, output = _add(FIXTURES / "lines.txt", bad)  # a good file first: it must not be written either
    assert code == 1
    assert output.splitlines() == [output.strip()]
    assert output.startswith(f"error: {message}"), output
    assert not (project / "data" / "added").exists()
    with pytest.raises(DataError, match=f"^{re.escape(str(bad))}"):
        read_article(bad)


# --- what the rest of the project reads --------------------------------------------------


def test_check_and_load_dataset_accept_the_written_files(project: Path) -> None:
    assert _add(*ARTICLES)[0] == 0
    result = runner.invoke(app, ["data", "check", "data/added"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "21 records, 0 problems"
    records = load_dataset([project / "data" / "added"], LABELS).records
    assert {r.source for r in records} == {"added"} and all(r.labels is None for r in records)
    lines = [r for r in records if r.id.startswith("lines-")]
    assert {r.article for r in lines} == {"lines-7f0a8ba5"}  # one article for grouped CV and context


def test_fit_reads_data_added_and_skips_it_as_unlabeled(project: Path, tiny_rows: list[dict[str, object]]) -> None:
    # No --data: fit reads the default data, data/added among it once it holds a file.
    write_jsonl(project / "data" / "paragraphs.jsonl", tiny_rows[:6])
    for folder, rows in (("authored", tiny_rows[6:12]), ("articles", tiny_rows[12:])):
        (project / "data" / folder).mkdir()
        write_jsonl(project / "data" / folder / "tiny.jsonl", rows)
    assert _add(*ARTICLES)[0] == 0
    result = runner.invoke(
        app,
        ["fit", "--folds", "2", "--repeats", "1", "--no-learning-curve", "--model", str(project / "m.joblib"),
         "--tracking-uri", f"sqlite:///{project / 'db.sqlite'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipped 22 unlabeled records" in result.output  # tiny_rows' one and the 21 added
