import os
from pathlib import Path

from train.files import atomic_write


def test_atomic_write_replaces_whole_file_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "labels.jsonl"
    target.write_text("old")
    atomic_write(target, "新内容".encode())
    assert target.read_text(encoding="utf-8") == "新内容"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]
