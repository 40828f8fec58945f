"""The README and the documentation pages: short, their code runs, their tables are files."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readme_is_short_and_opens_with_what_eamp_is():
    lines = README.splitlines()
    assert len(lines) <= 250
    assert lines[0].startswith("# eamp") and "independent" in " ".join(lines[:12])
    assert "bash scripts/main.sh" in README and "bash scripts/test.sh" in README


def test_the_readme_python_runs():
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:  # in order: a later block uses an earlier one's names
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["out"].shape == (100, 64) and len(namespace["rows"]) == 17


def test_every_page_link_and_include_names_a_file():
    pages = sorted((ROOT / "docs").glob("*.md"))
    missing = []
    for page in [ROOT / "README.md", *pages]:
        text = page.read_text()
        targets = re.findall(r"\]\(((?!https?:)[^)#\s]+)[^)]*\)", text)
        targets += re.findall(r"```\{include\} (\S+)", text)
        missing += [f"{page.name}: {t}" for t in targets if not (page.parent / t).exists()]
    assert not missing, missing


@pytest.mark.parametrize("page", ["reproducing", "baselines", "entropy-study", "performance",
                                  "large-graphs"])
def test_a_results_page_includes_its_tables_and_copies_none(page):
    text = (ROOT / "docs" / f"{page}.md").read_text()
    assert "```{include} ../results/" in text
    # a results table is included from its file, never written into the page
    assert not re.search(r"^\|.*\d+\.\d+.*\|$", text, re.MULTILINE)


def test_the_citation_and_the_changelog_name_this_version():
    import eamp

    assert f'version: "{eamp.__version__}"' in (ROOT / "CITATION.cff").read_text()
    assert f"## [{eamp.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def _perf_module():  # benchmarks/ is a folder of scripts, not a package
    import importlib.util

    spec = importlib.util.spec_from_file_location("_perf", ROOT / "benchmarks" / "_perf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "results" / "perf").glob("*.md")))
def test_each_speed_and_memory_table_is_what_its_csv_and_json_make(name):
    """The pages include ``results/perf/<name>.md``: it is :func:`render` of the benchmark's
    own ``.csv`` (numbers and machine) and ``.json`` (title, command, notes)."""
    assert _perf_module().render(name) == (ROOT / "results" / "perf" / f"{name}.md").read_text()


def test_a_speed_table_names_its_threads_in_words(tmp_path):
    perf = _perf_module()
    (tmp_path / "t.json").write_text('{"title": "T", "command": "python b.py", "about": "", '
                                     '"unit": "ms", "notes": ["n"]}')
    facts = ",".join(perf.FACTS)
    (tmp_path / "t.csv").write_text(f"key,after,{facts}\nx,1.5,AMD EPYC,AVX2,1,2,2,0,3\n"
                                    f"y,2,AMD EPYC,AVX2,1,2,2,0,3\n")
    assert perf.render("t", tmp_path) == (
        "**T**\n\n`python b.py`\n\nAMD EPYC (AVX2), 1 thread; torch 2, torch_geometric 2, "
        "eamp 0, python 3; unit: ms.\n\n| key | after |\n|---|---|\n| x | 1.5 |\n| y | 2 |\n"
        "\nn\n")
    renamed = facts.replace("python", "py")
    (tmp_path / "t.csv").write_text(f"key,after,{renamed}\nx,1,a,b,1,2,2,0,3\n")
    with pytest.raises(ValueError, match="last columns"):
        perf.render("t", tmp_path)
