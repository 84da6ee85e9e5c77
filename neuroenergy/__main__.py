"""``python -m neuroenergy``: the same as the ``neuroenergy`` console script."""

import sys

from neuroenergy.cli import main

sys.exit(main())
