import os
import shutil
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EAMP_SHARED_DATA", REPO.parent / "shared" / "data"))


def _copy(names: tuple[str, ...], target: Path) -> Path:
    """Copies datasets out of the read-only shared folder (PyG writes processed/ files)."""
    for name in names:
        source = SHARED_DATA / name
        if not source.exists():
            pytest.skip(f"{source} is not on this machine")
        shutil.copytree(source, target / name, dirs_exist_ok=True)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of Cora and CiteSeer from ../shared/data."""
    return _copy(("Cora", "CiteSeer"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def all_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of every dataset in ../shared/data."""
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} is not on this machine")
    names = tuple(p.name for p in SHARED_DATA.iterdir() if p.is_dir())
    return _copy(names, tmp_path_factory.mktemp("all_data"))


@pytest.fixture(autouse=True)
def _idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-line busy-machine warning depends on what else runs on the machine; tests of
    exact output see an idle one (the warning's own test sets a load)."""
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
