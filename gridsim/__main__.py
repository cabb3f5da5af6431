"""``python -m gridsim``: the same as the ``gridsim`` command."""

import sys

from gridsim.cli import main

sys.exit(main())
