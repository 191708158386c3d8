"""The package layout rule: no module imports another package's private module."""

from __future__ import annotations

import ast
from pathlib import Path

ISSUER = Path(__file__).resolve().parents[2] / "issuer"


def _modules(text: str) -> list[str]:
    """The issuer modules a source text imports (``from X import _m`` counts ``X._m``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            base = ISSUER.parent.joinpath(*node.module.split("."))
            found.extend(
                f"{node.module}.{a.name}" for a in node.names if (base / f"{a.name}.py").is_file()
            )
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [m for m in found if m.split(".")[0] == "issuer"]


def violations(own: tuple[str, ...], text: str) -> list[str]:
    """Imports in a module of package ``own`` (``()`` = issuer itself) that break the rule."""
    bad = []
    for module in _modules(text):
        *package, name = module.split(".")
        package = package[1:]
        private = name.startswith("_") and not name.startswith("__")
        if package and private and tuple(package) != own:
            bad.append(module)
    return bad


def test_no_module_imports_another_packages_private_module() -> None:
    found = {
        str(path.relative_to(ISSUER.parent)): bad
        for path in sorted(ISSUER.rglob("*.py"))
        if (bad := violations(path.relative_to(ISSUER).parts[:-1], path.read_text()))
    }
    assert found == {}


def test_the_rule_sees_each_form_of_private_import() -> None:
    assert violations(("cli",), "from issuer.keys._seen import SeenKeys\n") == ["issuer.keys._seen"]
    assert violations(("cli",), "from issuer.keys import _seen\n") == ["issuer.keys._seen"]
    assert violations(("cli",), "import issuer.store._sql\n") == ["issuer.store._sql"]
    assert violations(("keys",), "from issuer.keys._seen import SeenKeys\n") == []
    assert violations(("cli",), "from issuer._time import parse_seconds\n") == []
    assert violations(("cli",), "from issuer.cli._output import emit_json\n") == []
