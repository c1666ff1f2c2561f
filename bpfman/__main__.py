"""``python -m bpfman``: the same as the ``bpfman`` command."""

import sys

from bpfman.cli.entry import main

sys.exit(main())
