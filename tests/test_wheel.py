"""The package as a user installs it: ``python -m build`` makes a wheel from this checkout, which
installs into a clean virtual environment, imports there and reports its version (``import
eamp`` needs none of its dependencies, so the clean environment gets none)."""

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import eamp

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_builds_installs_imports_and_reports_its_version(tmp_path):
    # built from a copy: setuptools writes build/ beside the sources it builds
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name if source.exists() else _mkdir(source) / name)
    shutil.copytree(ROOT / "eamp", source / "eamp",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # --no-isolation: the build backend (setuptools) of this environment, no download
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("eamp-*.whl")
    assert re.fullmatch(rf"eamp-{re.escape(eamp.__version__)}-py3-none-any\.whl", wheel.name)
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True, capture_output=True)
    shown = subprocess.run([python, "-c", "import eamp; print(eamp.__version__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert shown.strip() == eamp.__version__
    files = subprocess.run([python, "-m", "pip", "show", "--files", "eamp"], check=True,
                           capture_output=True, text=True).stdout
    for module in ("eamp/entropy.py", "eamp/cli/__init__.py", "eamp/runs/store.py",
                   "eamp/training/config.py"):
        assert module in files, module


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
