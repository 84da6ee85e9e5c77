"""``neuroenergy data {list,fetch,verify}``: get datasets into a data root and check one.

Only :mod:`argparse` is imported here; a command imports what it needs when
it runs, so ``neuroenergy data --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["add_data_command", "main"]


def add_data_command(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command (with list/fetch/verify) to a CLI's subparsers."""
    data = sub.add_parser(
        "data", help="list, fetch or verify the datasets in a data root",
        description="Datasets in a data root (--root > $NEUROENERGY_DATA > ./data): list them, fetch what is "
                    "missing (from the official sources, or a mirror laid out like the data root), verify "
                    "checksums.")
    data.set_defaults(handler=lambda args: (data.print_help(), 2)[1])
    cmds = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("names", nargs="*", metavar="NAME", help="datasets (default: all)")
        p.add_argument("--root", help="data root (default: $NEUROENERGY_DATA, else ./data)")
        p.add_argument("--full", action="store_true",
                       help="N-MNIST: the official 60,000 / 10,000 archives (1 GB) instead of the verified "
                            "1,000 / 100 subset (22.6 MB)")

    lst = cmds.add_parser("list", help="datasets, their files and what the root holds",
                          description="For each dataset: files and bytes it needs, and how many the root holds.")
    common(lst)
    lst.set_defaults(handler=_list)

    fetch = cmds.add_parser(
        "fetch", help="download missing files into the data root (verified)",
        description="Download every missing source file into the data root, one progress bar per file, "
                    "each verified against the checksums shipped with the package before it appears. "
                    "A read-only root is never written: the command stops and says so.")
    common(fetch)
    fetch.add_argument("--mirror", metavar="URL",
                       help="take every file from URL/<path in the data root> (http://, https:// or file://) "
                            "instead of the official sources (default: $NEUROENERGY_MIRROR)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch.set_defaults(handler=_fetch)

    verify = cmds.add_parser("verify", help="check every file of the data root; name each bad or missing one",
                             description="Hash every source file; exit 1 and name each missing or corrupted one.")
    common(verify)
    verify.set_defaults(handler=_verify)


def _root(args: argparse.Namespace) -> Path:
    from neuroenergy.data.sources import resolve_root

    return resolve_root(args.root)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _list(args: argparse.Namespace) -> int:
    from neuroenergy.data import info
    from neuroenergy.data.fetch import _names, dataset_sources

    root = _root(args)
    print(f"data root {root}")
    for name in _names(args.names):
        sources = dataset_sources(name, root, full=args.full)
        have = [s for s in sources if (root / s.relpath).is_file()]
        size = sum(s.size or 0 for s in sources)
        state = "complete" if len(have) == len(sources) else f"{len(sources) - len(have)} missing"
        print(f"{name:14s} {info(name, root=root).modality:14s} {len(sources):5d} files {_mb(size):>10s}  "
              f"root holds {len(have)} ({state})")
    return 0


@contextlib.contextmanager
def _bar(description: str, total: int | None) -> Iterator[object]:
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit="B", unit_scale=True, leave=False, file=sys.stderr) as bar:
        yield bar


def _fetch(args: argparse.Namespace) -> int:
    from neuroenergy.data.fetch import fetch_root
    from neuroenergy.data.sources import mirror_url

    root = _root(args)
    mirror = mirror_url(args.mirror)
    print(f"fetching into {root} from {mirror or 'the official sources'}")
    result = fetch_root(args.names or None, root, mirror=mirror, progress=None if args.quiet else _bar,
                        full=args.full)
    for name in result.present:
        print(f"{name:14s} {result.downloaded[name]:5d} downloaded ({_mb(result.bytes[name])}), "
              f"{result.present[name]:5d} already present")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from neuroenergy.data.fetch import verify_root

    root = _root(args)
    checked, problems = verify_root(args.names or None, root, full=args.full)
    for problem in problems:
        print(f"{problem.kind}: {problem.path} ({problem.dataset}: {problem.detail})")
    bad = {p.dataset for p in problems}
    for name, n in checked.items():
        print(f"{name:14s} {n:5d} files  {'BAD' if name in bad else 'ok'}")
    if problems:
        print(f"{len(problems)} bad or missing file(s) in {root}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m neuroenergy.data.cli ...``: the same as ``neuroenergy data ...``."""
    from neuroenergy.cli import main as top

    return top(["data", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
