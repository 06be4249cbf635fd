"""``python -m dassdp.cli``: the ``dassdp`` command."""

import sys

from dassdp.cli import main

sys.exit(main())
