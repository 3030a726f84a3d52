"""HBase's log cleaner (TimeToLiveLogCleaner): deletes archived WAL segments from oldWALs/.

A segment reaches oldWALs/ only when nothing needs it for recovery: a region server archives a
segment once every edit in it is flushed to HFiles, and the master archives a dead server's
WAL once it is split into the regions' recovered edits. Nothing reads them afterwards (there
is no replication), so the master deletes each one `ttl` seconds (hbase.master.logcleaner.ttl,
10 minutes) after it was last written, which leaves time to look at a recent one. Without it
the directory grows by every byte ever written to a WAL.
"""

from __future__ import annotations

import logging
import os
import time

from storage import layout

log = logging.getLogger(__name__)


def clean_old_wals(rootdir: str, ttl: float, now: float | None = None) -> int:
    """Delete archived segments last modified more than `ttl` seconds ago; returns how many."""
    directory = layout.old_wal_dir(rootdir)
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    deleted = 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and \
                    now - entry.stat(follow_symlinks=False).st_mtime > ttl:
                os.remove(entry.path)
                deleted += 1
        except FileNotFoundError:  # another master's cleaner, or a concurrent delete
            continue
    if deleted:
        log.info("deleted %d archived WAL segment(s) older than %.0f s from %s", deleted, ttl,
                 directory)
    return deleted
