"""``python -m sweepsight``: the report CLI (see :mod:`sweepsight.reports.cli`)."""
import sys

from sweepsight.reports.cli import main

if __name__ == "__main__":
    sys.exit(main())
