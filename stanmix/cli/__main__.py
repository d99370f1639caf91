"""``python -m stanmix.cli`` runs the command line."""

import sys

from stanmix.cli import main

sys.exit(main())
