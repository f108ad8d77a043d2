"""Disk-full and permission errors while a run writes its files: a clear error naming the file, and no partial
output (rabc.io.atomic_write: temp file beside the target, fsync, rename; removed on any error)."""

import errno
import os

import pytest

import rabc.io
from rabc.lit.run import train
from tests.reliability.helpers import compose_train, tiny_overrides


def _no_partial_files(directory):
    """Neither the target nor a leftover temp file may exist."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp") or p.suffix == ".parquet")


def test_disk_full_while_writing_weights(tiny_dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rabc.io.os, "fsync", full_disk)
    with pytest.raises(OSError, match=r"cannot write .*weights\.parquet: No space left on device") as exc:
        train(compose_train(tiny_overrides(tiny_dataset)), run)
    assert exc.value.errno == errno.ENOSPC
    monkeypatch.setattr(rabc.io.os, "fsync", real_fsync)
    assert _no_partial_files(run) == []
    assert not (run / "run.json").exists() and not (run / "checkpoints").exists()


def test_disk_full_while_writing_a_json_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "run.json"
    rabc.io.write_json(target, {"old": 1})

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rabc.io.os, "fsync", full_disk)
    with pytest.raises(OSError, match=r"cannot write .*run\.json"):
        rabc.io.write_json(target, {"new": 2})
    assert target.read_text().strip().startswith("{") and '"old": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_permission_denied_creating_the_temp_file(tiny_dataset, tmp_path, monkeypatch):
    """Runs everywhere (also as root, where a read-only directory does not stop writes)."""
    run = tmp_path / "run"

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))

    monkeypatch.setattr(rabc.io.tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError, match=r"Permission denied.*run"):
        train(compose_train(tiny_overrides(tiny_dataset)), run)
    assert _no_partial_files(run) == []
