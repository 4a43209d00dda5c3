"""``python -m ttc`` is the ``ttc`` command."""

import sys

from ttc.cli import main

sys.exit(main())
