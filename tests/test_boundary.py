"""The command line's boundary: every value a user can give a flag of ``train``, ``tune``,
``reproduce`` or ``benchmark``, or a key of a config file, ends in a run (or, for
``benchmark --plan``, its table) or in one line ``eamp: error: ...`` with exit code 2 and
nothing written; never a traceback. The runs
themselves are replaced by a stub that stops at their first line: what is checked is
everything a value meets before training starts."""

import argparse
import json
import os
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eamp.cli import main
from eamp.cli.parser import build_parser


class _Ran(BaseException):
    """Raised by the stubbed runs: the arguments got through the boundary."""


@pytest.fixture(autouse=True)
def _stub_runs(monkeypatch):
    import torch

    def ran(*args, **kwargs):
        raise _Ran

    # main() sets the thread budget of this process: restored after the test
    threads = torch.get_num_threads()
    for name in ("EAMP_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, str(threads)))

    for target in ("eamp.training.loop.train", "eamp.runs.tune.tune",
                   "eamp.experiments.reproduce.reproduce", "eamp.experiments.benchmark.benchmark",
                   "eamp.experiments.study.run_study"):
        monkeypatch.setattr(target, ran)
    yield
    torch.set_num_threads(threads)


def _options(command: str) -> list[argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions
            if a.option_strings and a.dest not in ("help",)]


# what a user might type: numbers of every size and sign, non-numbers, words, choices
_TEXT = st.one_of(
    st.integers(-10**40, 10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1e300", "-1e-300", "1e-30", "nan", "inf", "", " ", "true",
                     "none", "cuda", "cuda:7", "cpu", "mps", "all", "x=1", "=", "gcn", "cora"]),
    st.text(min_size=0, max_size=12),
)

_BASE = {
    "train": ["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3"],
    "tune": ["tune", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--trials", "1"],
    "reproduce": ["reproduce", "--quick"],
    "benchmark": ["benchmark", "--suite", "fidelity-quick"],
}


def _value(action: argparse.Action) -> st.SearchStrategy:
    if action.nargs == 0:  # a switch
        return st.just(None)
    if action.choices is not None:
        return st.one_of(st.sampled_from([str(c) for c in action.choices]), _TEXT)
    return _TEXT


def _check(argv: list[str], out, capsys) -> None:
    try:
        code = main(argv)
    except _Ran:
        return  # through the boundary: a run started
    captured = capsys.readouterr()
    if code == 0:
        return  # a command that trains nothing (benchmark --plan) did its job
    lines = [line for line in captured.err.splitlines()
             if not line.startswith("eamp: warning: ")]
    assert code == 2, (argv, captured.err)
    assert len(lines) == 1 and lines[0].startswith("eamp: error: "), (argv, captured.err)
    assert "Traceback" not in captured.err
    assert not out.exists() or not any(out.iterdir()), (argv, list(out.iterdir()))


@pytest.mark.parametrize("command", list(_BASE))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_flag_value_ends_in_a_run_or_one_error_line(command, data, tmp_path_factory,
                                                         capsys):
    out = tmp_path_factory.mktemp("out") / "run"
    argv = list(_BASE[command]) + ["--out", str(out)]
    actions = [a for a in _options(command) if a.dest not in ("out", "config")]
    chosen = data.draw(st.lists(st.sampled_from(actions), min_size=1, max_size=3,
                                unique_by=lambda a: a.dest))
    for action in chosen:
        value = data.draw(_value(action))
        flag = action.option_strings[-1]
        argv += [flag] if value is None else [f"{flag}={value}"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(argv, out, capsys)


_CONFIG_KEYS = ["model", "dataset", "depth", "hidden", "epochs", "patience", "lr",
                "weight_decay", "dropout", "seed", "split", "split_index", "normalize_features",
                "data_dir", "model_options", "device", "precision", "select", "preset",
                "checkpoint", "batching", "num_parts", "parts_per_batch", "partition", "graph",
                "optimizer", "typo"]
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
              st.sampled_from(["gcn", "cora", "csbm", "cuda", "32", "all", "adam"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["temperature", "entropy_weight",
                                                             "detach", "p", "x"]), inner,
                                            max_size=3)),
    max_leaves=6)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=st.dictionaries(st.sampled_from(_CONFIG_KEYS), _JSON, max_size=4))
def test_any_config_file_ends_in_a_run_or_one_error_line(config, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("config")
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    out = folder / "run"
    argv = ["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--config",
            str(path), "--out", str(out)]
    _check(argv, out, capsys)


def test_a_learning_rate_beyond_float32_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--lr",
                 "1e300", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"eamp: error: lr: expected a finite number > 0 and <= {3.4028234663852886e38:g}"
                   ", got 1e+300"]
    assert not out.exists()
