"""Shared plumbing for every kepu package: database engine and transactions, clock, errors, i18n."""

import os

# Piccolo finds its engine through this module; set it before any table is used, wherever the
# process was started from (the CLI, uvicorn workers, tests).
os.environ.setdefault("PICCOLO_CONF", "kepu.piccolo_conf")
