"""Which Debian packages this site needs: the core list, plus the back ends of the daemons it enables.

`scripts/bootstrap.sh` asks this module, so `make run` installs calibre (several hundred MB) only where
the calibre daemon is enabled. Lists are `scripts/apt/<daemon>.txt`; `test-*.txt` are for the tests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from orchestrator.config import ConfigError, load


def read_list(path: Path) -> list[str]:
    """Package names of one list: the first word of each line, `#` lines and blanks skipped."""
    names = []
    for line in path.read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            names.append(words[0])
    return names


def lists_for(lists_dir: Path, daemons: Iterable[str], tests: bool) -> list[Path]:
    """core.txt, the list of each named daemon that has one, and with `tests` every list there is."""
    if tests:
        return sorted(lists_dir.glob("*.txt"))
    wanted = ["core", *daemons]
    return [lists_dir / f"{name}.txt" for name in wanted if (lists_dir / f"{name}.txt").exists()]


def packages(lists: Iterable[Path]) -> list[str]:
    return list(dict.fromkeys(name for path in lists for name in read_list(path)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the Debian packages this config needs, one a line.")
    parser.add_argument("lists_dir", type=Path)
    parser.add_argument("-c", "--config", help="INI file (default lookup as edeposit-amqpd)")
    parser.add_argument("--tests", action="store_true", help="every list, the tests' included")
    args = parser.parse_args(argv)
    names: list[str] = []
    if not args.tests:
        try:
            names = [d.name for d in load(args.config).enabled]
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
    chosen = lists_for(args.lists_dir, names, args.tests)
    print("lists: " + ", ".join(path.stem for path in chosen), file=sys.stderr)
    print("\n".join(packages(chosen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
