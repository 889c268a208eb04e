"""``python -m kassa24_console``: the command line, as ``kassa24-console``."""

import sys

from kassa24_console.commands.main import main

sys.exit(main())
