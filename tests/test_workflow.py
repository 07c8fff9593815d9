"""evaluate, explain, suggest and the model registry, on the model fitted from the real data."""

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tests.conftest import LABELS, FittedProject, write_jsonl
from train.cli import app
from train.modelfile import load
from train.predict import Paragraph, load_tagger, tag

runner = CliRunner()


def test_evaluate_matches_a_hand_computation(fitted: FittedProject, tmp_path: Path) -> None:
    rows = [
        {"id": "e:1", "text": "作家集体起诉该公司侵犯版权，要求赔偿", "labels": ["lawsuits"]},
        {"id": "e:2", "text": "公司完成新一轮融资，估值升至九百亿美元", "labels": ["finance"]},
        {"id": "e:3", "text": "首席技术官宣布离职，加盟竞争对手", "labels": ["talent_exodus", "competition"]},
        {"id": "e:4", "text": "欢迎留言讨论", "labels": []},
    ]
    data = write_jsonl(tmp_path / "eval.jsonl", rows)
    model = load_tagger(str(fitted.model))
    predicted = [set(t.labels) for t in tag(model, [Paragraph(str(r["id"]), str(r["text"])) for r in rows])]
    gold = [set(r["labels"]) for r in rows]
    tp = {lab: sum(lab in p and lab in g for p, g in zip(predicted, gold, strict=True)) for lab in LABELS}
    fp = {lab: sum(lab in p and lab not in g for p, g in zip(predicted, gold, strict=True)) for lab in LABELS}
    fn = {lab: sum(lab not in p and lab in g for p, g in zip(predicted, gold, strict=True)) for lab in LABELS}
    f1 = {
        lab: 2 * tp[lab] / (2 * tp[lab] + fp[lab] + fn[lab]) if tp[lab] + fp[lab] + fn[lab] else 0.0 for lab in LABELS
    }

    result = runner.invoke(
        app,
        ["evaluate", "--data", str(data), "--model", str(fitted.model), "--format", "json",
         "--tracking-uri", fitted.tracking_uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for label in LABELS:
        assert report["per_label"][label]["f1"] == pytest.approx(f1[label])
        assert report["per_label"][label]["support"] == sum(label in g for g in gold)
    assert report["macro_f1"] == pytest.approx(np.mean(list(f1.values())))
    assert report["subset_accuracy"] == pytest.approx(np.mean([p == g for p, g in zip(predicted, gold, strict=True)]))

    client = MlflowClient(tracking_uri=fitted.tracking_uri)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("topic-tagger").experiment_id], "tags.run_kind = 'evaluation'"
    )
    assert run.data.tags["training_run_id"] == load(fitted.model)[1]["mlflow_run_id"]
    assert run.data.metrics["eval_macro_f1"] == pytest.approx(report["macro_f1"])


def test_evaluate_refuses_unlabeled_records(fitted: FittedProject, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "e.jsonl", [{"id": "e:1", "text": "文字", "labels": None}])
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(fitted.model), "--no-track"])
    assert result.exit_code == 1
    assert "record 'e:1' is unlabeled" in result.output


def test_explain_json_lists_signed_terms(fitted: FittedProject) -> None:
    result = runner.invoke(app, ["explain", "--model", str(fitted.model), "--n", "5", "--format", "json"])
    assert result.exit_code == 0, result.output
    terms = json.loads(result.output)
    assert set(terms) == set(LABELS)
    assert all(w > 0 for _, w in terms["lawsuits"]["positive"]) and all(w < 0 for _, w in terms["lawsuits"]["negative"])
    assert any("诉" in name for name, _ in terms["lawsuits"]["positive"])


def test_predict_explain_names_terms_for_each_label_given(fitted: FittedProject) -> None:
    result = runner.invoke(
        app,
        ["predict", "--model", str(fitted.model), "--explain", "--format", "json", "马斯克起诉OpenAI背弃非营利使命"],
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["paragraphs"]
    assert set(row["reasons"]) == set(row["labels"]) and "lawsuits" in row["labels"]
    assert all(weight > 0 for _, weight in row["reasons"]["lawsuits"])


def test_suggest_orders_by_uncertainty(fitted: FittedProject, tmp_path: Path) -> None:
    texts = ["法院驳回诉讼", "公司宣布新产品", "首席科学家离职", "估值上升", "今天天气很好", "模型对比测试"]
    data = write_jsonl(tmp_path / "u.jsonl", [{"id": f"u:{i}", "text": t, "labels": None} for i, t in enumerate(texts)])
    model = load_tagger(str(fitted.model))
    margins = {
        t.id: min(abs(s - thr) for s, thr in zip(t.scores.values(), model.thresholds, strict=True))
        for t in tag(model, [Paragraph(f"u:{i}", t) for i, t in enumerate(texts)])
    }
    expected = sorted(margins, key=margins.__getitem__)[:3]
    result = runner.invoke(app, ["suggest", "--data", str(data), "--model", str(fitted.model), "--n", "3"])
    assert result.exit_code == 0, result.output
    shown = [line.split("│")[1].strip() for line in result.output.splitlines() if line.startswith("│ u:")]
    assert shown == expected


def test_register_promote_and_predict_by_alias(fitted: FittedProject, tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    for _ in range(2):
        result = runner.invoke(
            app,
            ["fit", "--data", str(data), "--folds", "2", "--repeats", "1", "--min-df", "1", "--register",
             "--no-learning-curve", "--model", str(tmp_path / "m.joblib"), "--tracking-uri", uri],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert "registered as topic-tagger version 2" in result.output

    assert runner.invoke(app, ["promote", "1", "--tracking-uri", uri]).exit_code == 0
    listed = runner.invoke(app, ["models", "--tracking-uri", uri])
    assert listed.exit_code == 0, listed.output
    version_one = next(line for line in listed.output.splitlines() if line.startswith("│ 1 "))
    assert "champion" in version_one

    by_alias = runner.invoke(
        app,
        [
            "predict",
            "--model",
            "models:/topic-tagger@champion",
            "--tracking-uri",
            uri,
            "--format",
            "json",
            "作家起诉公司",
        ],
    )
    assert by_alias.exit_code == 0, by_alias.output
    assert json.loads(by_alias.output)["paragraphs"][0]["scores"].keys() == set(LABELS)

    missing = runner.invoke(app, ["promote", "9", "--tracking-uri", uri])
    assert missing.exit_code == 1
    assert "has no version 9" in missing.output
