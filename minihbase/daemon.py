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
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

# (flag, default, type, help); default None = required.
Flag = tuple[str, object, type, str]


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


def setup_logging(role: str, level: str) -> _ServerNameFilter:
    """Configure root logging for a daemon of `role` ("master" / "regionserver").

    Returns the filter; set its `.server` to the daemon object (anything with a `.name`) once
    it exists, so later lines carry the daemon's name.
    """
    name_filter = _ServerNameFilter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s %(levelname)s [{role} %(server)s] %(name)s: %(message)s"))
    handler.addFilter(name_filter)
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for name in ("kazoo", "client.zookeeper"):  # the Thrift gateway's client session
        logging.getLogger(name).setLevel(logging.WARNING)
    return name_filter
