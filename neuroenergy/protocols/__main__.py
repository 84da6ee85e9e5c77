"""Entry point: ``python -m neuroenergy.protocols``."""

import sys

from neuroenergy.protocols.cli import main

if __name__ == "__main__":
    sys.exit(main())
