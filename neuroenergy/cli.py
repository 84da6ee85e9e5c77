"""The ``neuroenergy`` console script: the protocol commands plus ``data``.

``neuroenergy {list,show,run,status,stats,report}`` are the commands of
``python -m neuroenergy.protocols`` (which keeps working);
``neuroenergy data {list,fetch,verify}`` gets and checks datasets
(:mod:`neuroenergy.data.cli`). Nothing heavy (torch, xarray) is imported
before a command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neuroenergy`` console script; returns the exit status."""
    from neuroenergy.data.cli import add_data_command
    from neuroenergy.protocols.cli import main as protocols_main

    return protocols_main(argv, prog="neuroenergy", extend=add_data_command)


if __name__ == "__main__":
    sys.exit(main())
