import json
from pathlib import Path

import numpy as np
import pytest

from train import model as model_module
from train.config import LABELS, FitConfig
from train.errors import ModelError
from train.model import TopicModel, build_pipeline, load, save, sidecar_path


@pytest.fixture(scope="module")
def small_model(tiny_rows) -> TopicModel:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None]
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    pipeline = build_pipeline(FitConfig(min_df=1), ["超级对齐"]).fit([str(r["text"]) for r in rows], y)
    return TopicModel(pipeline=pipeline, labels=LABELS, thresholds=np.full(len(LABELS), 0.5))


def test_save_then_load_round_trips(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.joblib"
    meta = save(small_model, path, {"note": "x"})
    loaded, loaded_meta = load(path)
    assert loaded_meta == meta
    texts = ["公司完成融资", "作家起诉公司"]
    np.testing.assert_allclose(loaded.scores(texts), small_model.scores(texts))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.joblib.lock", "m.joblib", "m.json"]


def test_missing_model_says_run_fit(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run `train fit` first"):
        load(tmp_path / "none.joblib")


def test_tampered_model_is_refused_unless_trusted(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.joblib"
    save(small_model, path, {})
    other = tmp_path / "other.joblib"
    save(TopicModel(small_model.pipeline, LABELS, np.full(len(LABELS), 0.9)), other, {})
    path.write_bytes(other.read_bytes())  # a different, valid pickle under the old sidecar
    with pytest.raises(ModelError, match="sha256 does not match"):
        load(path)
    assert load(path, trust=True)[0].thresholds[0] == pytest.approx(0.9)


def test_crash_between_the_two_renames_leaves_the_old_pair_loadable(
    tmp_path: Path, small_model: TopicModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.joblib"
    save(small_model, path, {"generation": 1})
    real_write = model_module.atomic_write
    writes: list[Path] = []

    def crash_after_sidecar(target: Path, data: bytes) -> None:
        if writes:
            raise KeyboardInterrupt  # the process dies before the model file is replaced
        writes.append(target)
        real_write(target, data)

    monkeypatch.setattr(model_module, "atomic_write", crash_after_sidecar)
    changed = TopicModel(small_model.pipeline, LABELS, np.full(len(LABELS), 0.9))
    with pytest.raises(KeyboardInterrupt):
        save(changed, path, {"generation": 2})
    assert writes == [sidecar_path(path)]
    loaded, meta = load(path)
    assert meta["generation"] == 1
    assert loaded.thresholds[0] == pytest.approx(0.5)


def test_library_version_mismatch_is_refused_with_versions_named(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.joblib"
    save(small_model, path, {"versions": {"scikit-learn": "0.24.2"}})
    with pytest.raises(ModelError, match=r"trained with scikit-learn 0\.24\.2 \(installed \d"):
        load(path)
    assert load(path, trust=True)[0].labels == LABELS


def test_unwritable_model_path_is_a_clean_error(tmp_path: Path, small_model: TopicModel) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError, match="cannot write model"):
        save(small_model, blocker / "m.joblib", {})


def test_label_set_mismatch_is_refused(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.joblib"
    save(small_model, path, {})
    meta = json.loads(sidecar_path(path).read_text())
    meta["labels"] = ["finance"]
    sidecar_path(path).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="trained for labels"):
        load(path)


def test_failed_save_leaves_previous_model(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.joblib"
    save(small_model, path, {})
    before = path.read_bytes()
    changed = TopicModel(small_model.pipeline, LABELS, np.full(len(LABELS), 0.9))
    with pytest.raises(TypeError):
        save(changed, path, {"unserialisable": object()})
    assert path.read_bytes() == before
    assert load(path)[0].thresholds[0] == pytest.approx(0.5)
