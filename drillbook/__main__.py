"""``python -m drillbook``: the same as the ``drillbook`` command."""

from __future__ import annotations

import sys

from drillbook.cli import main

if __name__ == "__main__":
    sys.exit(main())
