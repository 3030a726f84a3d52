"""storage.layout: on-disk names and durable directory creation."""

from __future__ import annotations

import os

from storage import layout


def test_make_dirs_fsyncs_every_created_level_into_its_parent(tmp_path, monkeypatch):
    synced = []
    real = layout.fsync_dir
    monkeypatch.setattr(layout, "fsync_dir", lambda p: (synced.append(p), real(p)))
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "t1" / "region" / "cf"
    layout.make_dirs(str(target))
    assert target.is_dir()
    assert synced == [str(tmp_path / "data"), str(tmp_path / "data" / "t1"),
                      str(tmp_path / "data" / "t1" / "region")]
    synced.clear()
    layout.make_dirs(str(target))  # already there: nothing to make durable
    assert synced == [] and os.listdir(target) == []


def test_an_atomic_write_that_fails_on_a_full_disk_leaves_neither_temp_file_nor_change(
        tmp_path, monkeypatch):
    """A .regioninfo, a compaction manifest, a WAL split's recovered edits... written on a full
    disk: the old content stays, and no `<name>.tmp.<pid>` is left holding the space that is
    short (in a region's root directory nothing would ever delete it)."""
    import pytest

    path = tmp_path / ".regioninfo"
    layout.atomic_write(str(path), b"old")

    def disk_full(*_args):
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(layout.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        layout.atomic_write(str(path), b"new" * 10_000)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [".regioninfo"]
    assert path.read_bytes() == b"old"
