"""The layers a newcomer is promised (README, "Layout"): plumbing below the domain,
services below the framework, and subdomains that never import each other back."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "payflow_app"


def _imports(path: Path) -> set[str]:
    """Every ``payflow_app`` module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("payflow_app"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("payflow_app"))
    return found


def _modules(package: str) -> dict[str, set[str]]:
    root = APP.joinpath(*package.split(".")[1:])
    return {
        str(path.relative_to(APP.parent)): _imports(path)
        for path in sorted(root.rglob("*.py"))
        if ".web" not in path.parts
    }


@pytest.mark.parametrize(
    "package",
    [
        "payflow_app.core",
        "payflow_app.emails",
        "payflow_app.providers",
        "payflow_app.i18n",
    ],
)
def test_plumbing_never_reaches_up_into_the_domain_or_the_framework(package: str) -> None:
    above = ("payflow_app.services", "payflow_app.ui", "payflow_app.api")
    reaching = {
        path: sorted(name for name in names if name.startswith(above))
        for path, names in _modules(package).items()
    }
    assert {path: names for path, names in reaching.items() if names} == {}


def test_live_follows_orders_for_pages_but_knows_no_page() -> None:
    """``live/`` reads order snapshots (services) for the pages; pages and routes are above it."""
    reaching = {
        path: sorted(n for n in names if n.startswith(("payflow_app.ui", "payflow_app.api")))
        for path, names in _modules("payflow_app.live").items()
    }
    assert {path: names for path, names in reaching.items() if names} == {}


def test_services_import_no_framework() -> None:
    framework = ("payflow_app.ui", "payflow_app.api", "payflow_app.live", "reflex")
    reaching = {}
    for path, names in _modules("payflow_app.services").items():
        bad = sorted(n for n in names if n.startswith(framework))
        text = (APP.parent / path).read_text()
        if "import reflex" in text:
            bad.append("reflex")
        if bad:
            reaching[path] = bad
    assert reaching == {}


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    if (
        len(parts) >= 3
        and parts[:2] == ["payflow_app", "services"]
        and (APP / "services" / parts[2]).is_dir()
    ):
        return parts[2]
    return None


def test_no_services_subpackage_imports_one_that_imports_it_back() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for path, names in _modules("payflow_app.services").items():
        source = _subpackage(path.removesuffix(".py").replace("/", "."))
        for name in names:
            target = _subpackage(name)
            if source and target and target != source:
                edges[source].add(target)
    assert (
        len(
            {
                _subpackage(f"payflow_app.services.{p.name}")
                for p in (APP / "services").iterdir()
                if p.is_dir() and p.name != "__pycache__"
            }
        )
        >= 6
    )

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in edges.get(start, ())
        )

    cycles = sorted(f"{a} -> {b} -> … -> {a}" for a in list(edges) for b in edges[a] if reaches(b, a, {b}))
    assert cycles == []
