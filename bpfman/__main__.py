"""``python -m bpfman``: the same as the ``bpfman`` command."""

import sys

from bpfman.cli.entry import script

sys.exit(script())
