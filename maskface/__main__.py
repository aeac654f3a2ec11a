"""Entry point for ``python -m maskface`` (the ``maskface`` command runs the same :func:`maskface.cli.main`)."""

import sys

from maskface.cli import main

sys.exit(main())
