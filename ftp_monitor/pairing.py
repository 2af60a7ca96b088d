"""Decides which files of a user's home form an import item: a lone file or a metadata/data pair.

Rules of the old system, each switchable: a data file and a metadata file with the same name in one
directory pair up (`same_name_dir_pairing`); a directory holding exactly two files pairs them
(`same_dir_pairing`); a metadata file named by an ISBN pairs with a data file of that ISBN anywhere
(`isbn_pairing`). Works on paths only; reading and parsing come later.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from daemons.common.isbn import is_valid_isbn, normalize
from ftp_monitor.metadata import is_metadata_name


@dataclass(frozen=True)
class PairingRules:
    same_name_dir_pairing: bool = True
    same_dir_pairing: bool = True
    isbn_pairing: bool = True


@dataclass(frozen=True)
class Planned:
    """One import item: `metadata` and/or `ebook` (both set for a pair)."""

    metadata: Path | None = None
    ebook: Path | None = None

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.metadata, self.ebook) if p is not None]


@dataclass
class Plan:
    items: list[Planned]
    errors: list[str]
    skipped: list[Path]  # files left alone because they could not be placed


def stem(path: Path) -> str:
    return path.name.rsplit(".", 1)[0] if "." in path.name else path.name


def _single(path: Path) -> Planned:
    return Planned(metadata=path) if is_metadata_name(path.name) else Planned(ebook=path)


def _two(first: Path, second: Path) -> list[Planned]:
    first_meta, second_meta = is_metadata_name(first.name), is_metadata_name(second.name)
    if first_meta and not second_meta:
        return [Planned(metadata=first, ebook=second)]
    if second_meta and not first_meta:
        return [Planned(metadata=second, ebook=first)]
    return [_single(first), _single(second)]


def plan_directory(files: list[Path], rules: PairingRules, home: Path) -> Plan:
    plan = Plan([], [], [])
    if rules.same_dir_pairing and len(files) == 2:
        plan.items += _two(*files)
        return plan
    if not rules.same_name_dir_pairing:
        plan.items += [_single(f) for f in files]
        return plan
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        groups[stem(path)].append(path)
    for name, group in groups.items():
        if len(group) == 1:
            plan.items.append(_single(group[0]))
        elif len(group) == 2:
            plan.items += _two(*group)
        else:
            listed = ", ".join(str(p.relative_to(home)) for p in group)
            plan.errors.append(f"Too many files named '{name}' ({listed}); rename them so that at most two share "
                               f"a name. They were not imported.")
            plan.skipped += group
    return plan


def pair_by_isbn(items: list[Planned]) -> list[Planned]:
    """Join lone metadata files named by a valid ISBN with lone data files of the same ISBN."""
    ebooks: dict[str, list[Planned]] = defaultdict(list)
    for item in items:
        if item.metadata is None and item.ebook is not None:
            ebooks[normalize(stem(item.ebook))].append(item)
    result: list[Planned] = []
    used: set[int] = set()
    for item in items:
        if item.ebook is None and item.metadata is not None and is_valid_isbn(stem(item.metadata)):
            candidates = [e for e in ebooks.get(normalize(stem(item.metadata)), []) if id(e) not in used]
            if candidates:
                used.add(id(candidates[0]))
                result.append(Planned(metadata=item.metadata, ebook=candidates[0].ebook))
                continue
        result.append(item)
    return [item for item in result if id(item) not in used]


def plan_import(directories: dict[Path, list[Path]], rules: PairingRules, home: Path) -> Plan:
    """The import items of a home tree, given its regular files grouped by directory."""
    total = Plan([], [], [])
    for directory in sorted(directories):
        part = plan_directory(sorted(directories[directory]), rules, home)
        total.items += part.items
        total.errors += part.errors
        total.skipped += part.skipped
    if rules.isbn_pairing:
        total.items = pair_by_isbn(total.items)
    return total
