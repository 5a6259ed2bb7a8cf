"""Imports follow the direction DESIGN.md §2 draws.

``cli → web, sync, export, sandbox, workers → store, dingtalk``: ``dingtalk`` and ``store`` import
nothing of ours but themselves; ``sandbox`` is a separate application (it may reuse
``dingtalk.crypto`` only); ``sync``/``web``/``export``/``workers`` never import ``cli`` nor each
other's siblings upwards; only the application layers read ``dingsync.config``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dingsync"

# package -> dingsync packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "dingtalk": set(),
    "store": set(),
    "sandbox": {"dingtalk.crypto"},
    "sync": {"dingtalk", "store", "config"},
    "export": {"store", "config"},
    "web": {"dingtalk", "store", "sync", "export", "config", "metrics", "corps"},
    "workers": {"dingtalk", "store", "sync", "config", "metrics", "corps"},
    "cli": {
        "dingtalk",
        "store",
        "sync",
        "web",
        "export",
        "sandbox",
        "workers",
        "config",
        "metrics",
        "corps",
    },
    # Prometheus metrics and JSON logs of every process: reads the store for lag and inbox.
    "metrics": {"dingtalk", "store", "sync", "config"},
    # The companies registry: which apps serve which companies (above sync, beside config).
    "corps": {"dingtalk", "store", "sync", "config"},
    "config": {"timeutil"},
    "timeutil": set(),
    "areas": set(),
    "__init__": set(),
}
# The time module and the area registry import nothing of ours; every package may use them.
for _allowed_set in ALLOWED.values():
    _allowed_set.update({"timeutil", "areas"})
ALLOWED["timeutil"] = set()
ALLOWED["areas"] = set()


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    pkg = rel.parts[0].removesuffix(".py")
    return "cli" if pkg == "commands" else pkg  # command groups are part of the CLI layer


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the file's package
                base = list(path.relative_to(SRC).with_suffix("").parts)[: -node.level]
                mod = ".".join(["dingsync", *base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
    return [(line, m) for line, m in found if m == "dingsync" or m.startswith("dingsync.")]


def _allowed(pkg: str, target: str) -> bool:
    parts = target.split(".")[1:]  # drop "dingsync"
    if not parts or parts[0] == "__init__":
        return pkg == "cli"
    if parts[0] == pkg or (pkg == "cli" and parts[0] == "commands"):
        return True
    for allowed in ALLOWED.get(pkg, set()):
        a = allowed.split(".")
        if parts[: len(a)] == a:
            return True
    return False


def test_imports_follow_the_design_direction() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert files, "no sources found"
    bad = []
    for path in files:
        pkg = _package_of(path)
        assert pkg in ALLOWED, f"{path}: package {pkg!r} has no rule; add one to ALLOWED"
        for line, target in _imports(path):
            if target == "dingsync" and pkg != "cli":
                bad.append(f"{path.relative_to(SRC)}:{line} imports dingsync (top level)")
            elif target != "dingsync" and not _allowed(pkg, target):
                bad.append(f"{path.relative_to(SRC)}:{line} ({pkg}) imports {target}")
    assert not bad, "imports against DESIGN.md §2:\n" + "\n".join(bad)


def test_checker_catches_a_wrong_import(tmp_path: Path) -> None:
    """The rule itself: store importing dingtalk, or dingtalk importing store, is refused."""
    assert not _allowed("store", "dingsync.dingtalk.client")
    assert not _allowed("dingtalk", "dingsync.store.repo")
    assert not _allowed("dingtalk", "dingsync.config")
    assert not _allowed("sandbox", "dingsync.dingtalk.contacts")
    assert _allowed("sandbox", "dingsync.dingtalk.crypto")
    assert _allowed("sync", "dingsync.store.repo")
    assert not _allowed("sync", "dingsync.cli")
