"""Each command loads only its own module: the table, help, typos, and what `verify` imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import issuer.tlog
from issuer.cli import COMMANDS, commands_of
from issuer.tlog import _audit, _witness_server
from tests.cli._run import runner
from tests.conftest import BUNDLE_PATH

MODULES = sorted(set(COMMANDS.values()))


@pytest.mark.parametrize("module", MODULES)
def test_the_table_names_exactly_the_commands_each_module_defines(module: str) -> None:
    defined = set(commands_of(module))
    assert defined == {name for name, owner in COMMANDS.items() if owner == module}


def test_help_lists_every_command_in_the_table_order() -> None:
    from issuer.cli import app

    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    listed = [
        line.split()[1]
        for line in result.output.split("Commands")[1].splitlines()
        if line.startswith("│ ") and line.split()[1][:1].isalpha()
    ]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize(
    ("typed", "typo", "meant"),
    [(["verfy", "x"], "verfy", "'verify'"), (["keys", "lst"], "lst", "'list'")],
)
def test_a_mistyped_command_is_a_usage_error_naming_the_command_meant(
    typed: list[str], typo: str, meant: str
) -> None:
    from issuer.cli import app

    result = runner.invoke(app, typed, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"No such command '{typo}'. Did you mean {meant}?" in result.output


def test_an_unknown_command_far_from_any_is_still_a_usage_error() -> None:
    from issuer.cli import app

    result = runner.invoke(app, ["zzzzzz"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "No such command 'zzzzzz'." in result.output
    assert "Did you mean" not in result.output


# What `pith verify FILE` must not load: the registry, the readers of arXiv input, the
# progress bars, the HTTP stack (no URL was given), the audit and the witness server.
NOT_FOR_VERIFY = [
    "httpx",
    "httpcore",
    "lxml.etree",
    "rich.progress",
    "sqlite3",
    "issuer.store",
    "issuer.sources",
    "issuer.pipeline",
    "issuer.publish",
    "issuer.cli._registry",
    "issuer.cli._progress",
    "issuer.tlog._audit",
    "issuer.tlog._witness_server",
]

_PROBE = """
import json, sys
from issuer.cli import app
try:
    app(sys.argv[1:], prog_name="pith")
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_verifying_a_file_loads_neither_the_registry_nor_the_network(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "--home", str(tmp_path), "verify", str(BUNDLE_PATH)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == ""
    probe = json.loads(done.stderr.splitlines()[-1])
    assert probe["code"] == 0, done.stderr
    assert "OK: " in done.stderr
    loaded = set(probe["modules"])
    assert "issuer.verify" in loaded  # the probe saw the command run
    assert sorted(m for m in NOT_FOR_VERIFY if m in loaded) == []


def test_the_log_packages_lazy_names_are_its_modules_own() -> None:
    assert issuer.tlog.audit is _audit.audit
    assert issuer.tlog.SplitView is _audit.SplitView
    assert issuer.tlog.WitnessServer is _witness_server.WitnessServer
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = issuer.tlog.nothing_here  # type: ignore[attr-defined]


def test_the_log_packages_lazy_names_are_listed_before_their_first_use() -> None:
    code = "import issuer.tlog as t; print(sorted(set(t.__all__) - set(dir(t))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
