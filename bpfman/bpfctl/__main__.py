"""``python -m bpfman.bpfctl``: the same as the ``bpfctl`` command."""

import sys

from bpfman.bpfctl.main import main

sys.exit(main())
