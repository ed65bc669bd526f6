"""``python -m multi_llm_otel.cli``: the ``multi-llm-otel`` command."""

import sys

from multi_llm_otel.cli import main

sys.exit(main())
