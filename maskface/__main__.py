"""Entry point for ``python -m maskface``."""

import os
import sys

# TensorFlow's C++ start-up chatter would drown the CLI's own messages on stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from maskface.cli import main  # noqa: E402

sys.exit(main())
