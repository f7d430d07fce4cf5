"""`python -m tailorai.cli`: the same as the `tailor` command."""

from __future__ import annotations

import sys

from tailorai.cli import main

sys.exit(main())
