"""The ``dassdp`` entry point: ``--version``, and commands imported only when they run."""

import importlib.metadata
import subprocess
import sys

import pytest

from dassdp.cli import main


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"dassdp {importlib.metadata.version('dassdp')}"


def _modules_after(call: str) -> set[str]:
    """The dassdp, Brian2 and torch modules a fresh interpreter has imported after ``call``."""
    code = (
        "import sys\n"
        "from dassdp.cli import main\n"
        f"try:\n    {call}\nexcept SystemExit:\n    pass\n"
        "modules = (m for m in sys.modules if m.split('.')[0] in ('dassdp', 'brian2', 'torch'))\n"
        "print('imported:', *modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.rpartition("imported:")[2].split())


def test_help_imports_no_command_module():
    assert _modules_after("main(['--help'])") == {"dassdp", "dassdp.cli", "dassdp.extras"}


def test_report_imports_neither_brian2_nor_torch(tmp_path):
    modules = _modules_after(f"main(['report', {str(tmp_path / 'missing')!r}])")
    assert "dassdp.cli.report" in modules
    assert not {m for m in modules if m.split(".")[0] in ("brian2", "torch")}
