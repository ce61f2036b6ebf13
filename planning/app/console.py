"""The ``schoolplan`` console script: a Ctrl-C while the program is still loading ends quietly too.

The command line's modules import numpy, geopandas and OR-Tools, which takes seconds; a Ctrl-C
then would end in a ``KeyboardInterrupt`` traceback. This module imports nothing heavy before its
``try``; once loaded, :func:`planning.app.cli.main` handles Ctrl-C itself.
"""

from __future__ import annotations

import sys

from planning.app.interrupt import EXIT_INTERRUPTED, NOTHING_WRITTEN


def main() -> int:
    """Entry point of the ``schoolplan`` console script (:func:`planning.app.cli.main` once loaded)."""
    try:
        from planning.app.cli import main as cli_main  # noqa: PLC0415 - the heavy part, interruptible
    except KeyboardInterrupt:
        sys.stderr.write(f"Interrupted (Ctrl-C): {NOTHING_WRITTEN}.\n")
        return EXIT_INTERRUPTED
    return cli_main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
