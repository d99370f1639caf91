"""``python -m stanmix`` runs the command line."""

import sys

from stanmix.cli import main

sys.exit(main())
