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
