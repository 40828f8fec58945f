"""What a user reads speaks of the project, never of how it was made: no development steps
("stop 12"), tracker numbers ("issue 15"), sessions or borrowed machines in the code, the
command line's help, the scripts, the documentation pages or the results files."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROCESS = re.compile(r"\b(stops? \d+|issues? \d+|(an )?earlier session|this session|"
                     r"sometimes lent|the H200 this project)\b", re.IGNORECASE)
# an absolute /work/ path names a folder of one machine, not one a user has
DEVELOPMENT_PATH = re.compile(r"(?<![\w.])/work/")
# what users read; an external reference such as pyg-team/pytorch_geometric#9359 is fine
READ = ["README.md", "CITATION.cff", "pyproject.toml", "eamp/**/*.py", "scripts/*",
        "docs/**/*.md", "docs/conf.py", "results/**/*.md", "results/**/*.csv",
        "results/perf/*.json", "benchmarks/*.py", "examples/*.py", ".ci/*", "CHANGELOG.md"]


def _files():
    seen = set()
    for pattern in READ:
        for path in ROOT.glob(pattern):
            if path.is_file() and "_build" not in path.parts and path not in seen:
                seen.add(path)
                yield path


def test_no_development_words_in_what_users_read():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}"
             for path in _files()
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if PROCESS.search(line) or DEVELOPMENT_PATH.search(line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("command", ["train", "tune", "reproduce", "benchmark", "datasets",
                                     "demo", "oversmoothing"])
def test_no_development_words_in_the_help(command):
    text = subprocess.run([sys.executable, "-m", "eamp", command, "--help"],
                          capture_output=True, text=True, check=True).stdout
    assert not PROCESS.search(text), PROCESS.search(text)


def test_the_pattern_finds_what_it_is_for():
    for words in ("as measured in stop 38", "(issue 15)", "an earlier session found",
                  "the H200 this project is sometimes lent"):
        assert PROCESS.search(words), words
    assert DEVELOPMENT_PATH.search("--out /work/logs/scale.jsonl")
    for words in ("stop after patience epochs", "pyg-team/pytorch_geometric#9359",
                  "session_id", "the paper's Table 1"):
        assert not PROCESS.search(words), words
    for words in ("runs/work/a", "../work/x"):
        assert not DEVELOPMENT_PATH.search(words), words
