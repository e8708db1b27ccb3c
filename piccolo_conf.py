"""For the `piccolo` command run from the repository root (e.g. `piccolo migrations new venues --auto`)."""

from kepu.piccolo_conf import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
