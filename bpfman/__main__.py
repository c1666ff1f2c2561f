"""``python -m bpfman``: the same as the ``bpfman`` command."""

import sys

from bpfman.cli.main import main

sys.exit(main())
