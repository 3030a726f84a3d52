"""What the two daemons (`hmaster.main`, `regionserver.main`) share: flags and log set-up.

Contract (see docs/local-cluster.md and docs/docker.md, which rely on it):
- Every flag `--some-flag` may also come from the environment variable
  MINIHBASE_SOME_FLAG; a flag on the command line wins over the environment, the environment
  over the built-in default. A flag whose default is None is required: set on the command line
  or by a non-empty environment variable. A bool flag is a switch (`--backup`); its variable is
  true when it reads 1, true or yes.
- Logs go to stderr, one line per event, and every line names the daemon
  ("[master host,port,startcode]", "[regionserver host,port,startcode]"; "(starting)" until the
  port is bound and the name is known). kazoo's own chatter is kept at WARNING.
- With `--log-file FILE` they go to FILE instead, rolled as HBase's log4j RollingFileAppender
  rolls its log: past `--log-max-bytes` (256 MiB, hbase.log.maxfilesize) FILE becomes FILE.1
  (FILE.1 becomes FILE.2, ...) and at most `--log-backups` (20, hbase.log.maxbackupindex) rolled
  files are kept, so a daemon that runs for months keeps at most 21 files. Whatever else reaches
  stderr (a thread's uncaught traceback) goes to the current FILE too: file descriptor 2 is
  pointed at it, and again after every roll.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys

# (flag, default, type, help); default None = required.
Flag = tuple[str, object, type, str]

# HBase's conf/log4j.properties: hbase.log.maxfilesize=256MB, hbase.log.maxbackupindex=20
LOG_MAX_BYTES = 256 << 20
LOG_BACKUPS = 20

# Every daemon's logging flags (the last of its FLAGS).
LOG_FLAGS: list[Flag] = [
    ("log-level", "INFO", str, "DEBUG, INFO, WARNING..."),
    ("log-file", "", str, "write the log to this file, rolled at --log-max-bytes "
     "(default: stderr)"),
    ("log-max-bytes", LOG_MAX_BYTES, int, "size past which --log-file is rolled to FILE.1"),
    ("log-backups", LOG_BACKUPS, int, "rolled files of --log-file kept (FILE.1 ... FILE.N)"),
]


def env_name(flag: str) -> str:
    """The environment variable that sets `--flag`: MINIHBASE_<FLAG_UPPER_SNAKE>."""
    return "MINIHBASE_" + flag.upper().replace("-", "_")


def parse_flags(prog: str, description: str, flags: list[Flag], argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=description)
    for flag, default, typ, help_ in flags:
        env = os.environ.get(env_name(flag))
        if typ is bool:
            on = default if env is None else env.strip().lower() in ("1", "true", "yes")
            p.add_argument(f"--{flag}", action="store_true", default=on,
                           help=f"{help_} (env {env_name(flag)}=true)")
            continue
        # An empty variable does not satisfy a required flag (a compose file's `${ZK:-}`).
        value = default if env is None or (env == "" and default is None) else typ(env)
        p.add_argument(f"--{flag}", type=typ, default=value, required=value is None,
                       help=f"{help_} (env {env_name(flag)})")
    return p.parse_args(argv)


class _ServerNameFilter(logging.Filter):
    """Stamps every record with the daemon's name (known only once the port is bound)."""

    def __init__(self):
        super().__init__()
        self.server = None  # set once by the main thread, read by any logging thread

    def filter(self, record):
        name = getattr(self.server, "name", None)
        record.server = name or "(starting)"
        return True


class _RollingLog(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler whose file also receives the process's stderr (fd 2), after every
    roll too: otherwise a traceback printed to stderr would go to a rolled file, or nowhere."""

    def __init__(self, path: str, max_bytes: int, backups: int):
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._adopt_stderr()

    def doRollover(self):  # called with the handler's lock held
        super().doRollover()
        self._adopt_stderr()

    def _adopt_stderr(self) -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.stream.fileno(), 2)


def setup_logging(role: str, level: str, log_file: str = "", max_bytes: int = LOG_MAX_BYTES,
                  backups: int = LOG_BACKUPS) -> _ServerNameFilter:
    """Configure root logging for a daemon of `role` ("master" / "regionserver" / "thrift"):
    to stderr, or to `log_file` rolled past `max_bytes` keeping `backups` rolled files.

    Returns the filter; set its `.server` to the daemon object (anything with a `.name`) once
    it exists, so later lines carry the daemon's name. A bad --log-file or size exits with a
    one-line error (status 2, a usage error).
    """
    name_filter = _ServerNameFilter()
    if log_file:
        if max_bytes < 1 or backups < 1:
            print(f"minihbase-{role}: --log-max-bytes and --log-backups must be at least 1 "
                  f"(got {max_bytes} and {backups})", file=sys.stderr)
            sys.exit(2)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
            handler = _RollingLog(log_file, max_bytes, backups)
        except OSError as e:
            print(f"minihbase-{role}: cannot write --log-file {log_file}: {e.strerror}",
                  file=sys.stderr)
            sys.exit(2)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s %(levelname)s [{role} %(server)s] %(name)s: %(message)s"))
    handler.addFilter(name_filter)
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for name in ("kazoo", "client.zookeeper"):  # the Thrift gateway's client session
        logging.getLogger(name).setLevel(logging.WARNING)
    return name_filter
