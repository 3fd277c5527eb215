"""``python -m cadence``: the ``cadence`` command (what ``cadence serve`` starts its worker with)."""

import sys

from cadence.cli import main

sys.exit(main())
