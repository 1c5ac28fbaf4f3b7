"""``python -m reports``: see :mod:`reports.cli`."""
import sys

from sweepsight.reports.cli import main

if __name__ == "__main__":
    sys.exit(main())
