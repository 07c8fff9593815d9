"""The model files on disk: a crash-safe set, read back without running code."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import LABELS
from train import modelfile
from train.config import FitConfig
from train.errors import ModelError
from train.export import to_scorer
from train.model import TopicModel, build_pipeline
from train.modelfile import ModelFiles, load, save, sidecar_path


@pytest.fixture(scope="module")
def small_model(tiny_rows) -> TopicModel:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None]
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    pipeline = build_pipeline(FitConfig(min_df=1), ["超级对齐"]).fit([str(r["text"]) for r in rows], y)
    return TopicModel(pipeline=pipeline, labels=LABELS, thresholds=np.full(len(LABELS), 0.5))


def with_thresholds(model: TopicModel, value: float) -> TopicModel:
    return TopicModel(model.pipeline, LABELS, np.full(len(LABELS), value))


def write(model: TopicModel, path: Path, metadata: dict[str, object]) -> dict[str, object]:
    return save(model, to_scorer(model), path, metadata)


def test_save_then_load_round_trips(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.npz"
    meta = write(small_model, path, {"note": "x"})
    loaded, loaded_meta = load(path)
    assert loaded_meta == meta
    texts = ["公司完成融资", "作家起诉公司"]
    np.testing.assert_allclose(loaded.scores(texts), small_model.scores(texts), rtol=0, atol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m.joblib", "m.json", "m.npz"]


def test_any_file_of_the_set_names_the_model(tmp_path: Path, small_model: TopicModel) -> None:
    write(small_model, tmp_path / "m.joblib", {})
    for name in ("m.npz", "m.joblib", "m.json", "m"):
        assert ModelFiles.of(tmp_path / name).plain == tmp_path / "m.npz"
        assert load(tmp_path / name)[0].labels == LABELS


def test_missing_model_says_run_fit(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run `train fit` first"):
        load(tmp_path / "none.npz")


def test_a_replaced_plain_model_is_refused(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.npz"
    write(small_model, path, {})
    other = tmp_path / "other.npz"
    write(with_thresholds(small_model, 0.9), other, {})
    path.write_bytes(other.read_bytes())  # a different, valid model under the old sidecar
    with pytest.raises(ModelError, match="sha256 does not match"):
        load(path)


class Hostile:
    """Unpickling this writes a file: the proof that a loader ran the attacker's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "pwned"))


@pytest.mark.parametrize("replaced", ["npz", "joblib"])
def test_a_hostile_pickle_with_a_forged_checksum_runs_no_code(
    tmp_path: Path, small_model: TopicModel, replaced: str
) -> None:
    path = tmp_path / "m.npz"
    write(small_model, path, {})
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Hostile(marker))
    target = tmp_path / f"m.{replaced}"
    target.write_bytes(payload)
    meta = json.loads(sidecar_path(path).read_text())
    meta["plain_sha256" if replaced == "npz" else "model_sha256"] = __import__("hashlib").sha256(payload).hexdigest()
    sidecar_path(path).write_text(json.dumps(meta))
    if replaced == "npz":
        with pytest.raises(ModelError, match="not a readable topic-tagger model"):
            load(path)
    else:
        assert load(path)[0].labels == LABELS  # the pipeline pickle is never opened
    assert not marker.exists()


def test_crash_after_the_sidecar_leaves_the_old_set_loadable(
    tmp_path: Path, small_model: TopicModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.npz"
    write(small_model, path, {"generation": 1})
    real_write = modelfile.atomic_write
    writes: list[Path] = []

    def crash_after_sidecar(target: Path, data: bytes) -> None:
        if writes:
            raise KeyboardInterrupt  # the process dies before the model files are replaced
        writes.append(target)
        real_write(target, data)

    monkeypatch.setattr(modelfile, "atomic_write", crash_after_sidecar)
    with pytest.raises(KeyboardInterrupt):
        write(with_thresholds(small_model, 0.9), path, {"generation": 2})
    assert writes == [sidecar_path(path)]
    loaded, meta = load(path)
    assert meta["generation"] == 1
    assert loaded.thresholds[0] == pytest.approx(0.5)


def test_unwritable_model_path_is_a_clean_error(tmp_path: Path, small_model: TopicModel) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError, match="cannot write model"):
        write(small_model, blocker / "m.npz", {})


def test_failed_save_leaves_previous_model(tmp_path: Path, small_model: TopicModel) -> None:
    path = tmp_path / "m.npz"
    write(small_model, path, {})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write(with_thresholds(small_model, 0.9), path, {"unserialisable": object()})
    assert path.read_bytes() == before
    assert load(path)[0].thresholds[0] == pytest.approx(0.5)
