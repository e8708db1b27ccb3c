"""kepu (科普预约): booking and check-in for science education bases, museums and lab open days."""

import core  # noqa: F401  (sets PICCOLO_CONF before any table is used)

__version__ = "0.1.0"
