import json
import subprocess
import sys

import pytest

from eamp.cli import main
from eamp.data import load_dataset
from eamp.training import TrainConfig, read_result, train

RESULT_KEYS = {"model", "dataset", "depth", "seed", "config", "best_val_acc", "test_acc",
               "layer_energy", "epoch_time_s", "versions"}


def test_two_layer_gcn_on_cora_reaches_078(data_root):
    result = train(TrainConfig("gcn", "cora", 2, hidden=64, data_dir=str(data_root)))
    assert result.test_acc >= 0.78
    assert len(result.layer_energy) == 3
    assert result.splits[0]["best_epoch"] < result.splits[0]["epochs_run"]


def test_runs_are_repeatable_and_record_everything():
    config = TrainConfig("entropic_gcn", "csbm", 3, hidden=16, epochs=15, patience=15,
                         model_options={"temperature": 1.0})
    first, second = train(config), train(config)
    assert first.best_val_acc == second.best_val_acc and first.test_acc == second.test_acc
    assert first.layer_energy == second.layer_energy
    payload = first.to_dict()
    assert RESULT_KEYS <= set(payload)
    from eamp.models import get_model_spec

    # the model's default, filled in
    assert payload["config"]["lr"] == get_model_spec("entropic_gcn").defaults.lr
    assert payload["config"]["model_options"] == {"temperature": 1.0}
    assert set(payload["versions"]) >= {"eamp", "torch", "torch_geometric"}
    assert len(payload["splits"][0]["val_curve"]) == payload["splits"][0]["epochs_run"]


def test_on_epoch_callback_sees_every_epoch_and_can_stop():
    seen = []

    def stop_at_three(epoch, val_acc):
        seen.append((epoch, val_acc))
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig("gcn", "csbm", 2, hidden=8, epochs=10), on_epoch=stop_at_three)
    assert [e for e, _ in seen] == [0, 1, 2, 3]


def test_all_splits_of_a_multi_split_dataset(all_data_root):
    data = load_dataset("texas", all_data_root)
    result = train(TrainConfig("gcn", "texas", 2, hidden=16, epochs=5, patience=5,
                               split_index="all"), data)
    assert [s["split_index"] for s in result.splits] == list(range(10))
    assert result.test_acc == pytest.approx(sum(s["test_acc"] for s in result.splits) / 10)


def test_cli_train_writes_a_valid_result(tmp_path, data_root, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "entropic_gcn", "--dataset", "cora", "--depth", "3",
                 "--hidden", "16", "--epochs", "3", "--data-dir", str(data_root), "--out",
                 str(out), "--entropy-weight", "0.5", "--temperature", "2", "--no-detach"])
    assert code == 0
    payload = read_result(out / "result.json")
    assert RESULT_KEYS <= set(payload)
    assert payload["config"]["model_options"] == {"entropy_weight": 0.5, "temperature": 2.0,
                                                  "detach": False}
    assert len(payload["layer_energy"]) == 4
    assert not list(out.glob(".*.tmp"))
    # --config reuses a result's settings; flags on the command line win
    code = main(["train", "--config", str(out / "result.json"), "--model", "entropic_gcn",
                 "--dataset", "cora", "--depth", "2", "--hidden", "16",
                 "--data-dir", str(data_root), "--out", str(tmp_path / "again")])
    again = json.loads((tmp_path / "again" / "result.json").read_text())
    assert again["config"]["epochs"] == 3 and again["depth"] == 2
    assert again["config"]["model_options"]["entropy_weight"] == 0.5
    assert "accuracy val" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "gat", "--dataset", "cora", "--depth", "2"], "choose one of gcn"),
        (["--model", "gcn", "--dataset", "pubmed", "--depth", "2"], "choose one of cora"),
        (["--model", "gcn", "--dataset", "cora", "--depth", "0"], "integer >= 1"),
        (["--model", "gcn", "--dataset", "cora", "--depth", "2", "--lr", "-1"], "lr"),
        (["--model", "gcn", "--dataset", "cora", "--depth", "2", "--dropout", "1.5"],
         "dropout"),
        (["--model", "gcn", "--dataset", "cora", "--depth", "2", "--temperature", "3"],
         "gcn does not take temperature"),
        (["--model", "entropic_gcn", "--dataset", "cora", "--depth", "2", "--temperature",
          "0"], "temperature"),
        (["--model", "gcn", "--dataset", "cora", "--depth", "2", "--optimizer", "sgd"],
         "--optimizer: invalid choice: 'sgd'"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, args, message, capsys):
    code = main(["train", *args, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script_help_and_exit_code(tmp_path):
    run = subprocess.run([sys.executable, "-m", "eamp.cli", "train", "--model", "nope",
                          "--dataset", "cora", "--depth", "2", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr


@pytest.mark.parametrize("command", ["train", "datasets", "oversmoothing", "reproduce", "tune",
                                     "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out


def test_datasets_command_lists_counts(all_data_root, capsys):
    assert main(["datasets", "--data-dir", str(all_data_root)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("cora "))
    assert "2708" in line and "5278" in line and "present" in line
    assert "grid" in out and "generated" in out
    assert "roc_auc" in next(row for row in out.splitlines() if row.startswith("tolokers "))


@pytest.mark.parametrize("argv", [
    ["--help"], ["--version"], ["train", "--help"], ["datasets", "--data-dir", "{empty}"],
    ["train", "--model", "nope", "--dataset", "cora", "--depth", "2", "--out", "{empty}/o"],
    ["train", "--model", "GCN", "--dataset", "nope", "--depth", "2", "--out", "{empty}/o"],
    ["tune", "--model", "gcn", "--dataset", "cora", "--depth", "0", "--trials", "1",
     "--out", "{empty}/o"],
    ["reproduce", "--out", "{empty}/o", "--protocol", "nope"],
])
def test_help_version_listing_and_argument_errors_do_not_import_torch(argv, tmp_path):
    # what keeps them under 0.5 s (benchmarks/cli_startup.py times them): importing torch
    # and PyG alone takes seconds
    argv = [a.format(empty=tmp_path) for a in argv]
    code = (f"import sys\nfrom eamp.cli import main\ntry:\n    main({argv!r})\n"
            "except SystemExit:\n    pass\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert run.stdout.strip().splitlines()[-1] == "no torch", run.stderr


def test_datasets_command_reports_missing(tmp_path, capsys):
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "missing" in out and str(tmp_path / "Cora" / "raw") in out


def test_demo_prints_energy_and_entropy(capsys):
    assert main(["demo", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "energy" in out and "entropy" in out


@pytest.mark.parametrize("model, threshold", [("gcnii", 0.80), ("g2", 0.70),
                                              ("pairnorm_gcn", 0.60)])
def test_default_settings_reach_the_documented_accuracy(model, threshold, data_root):
    # the bar for the registry's defaults: depth 16, width 64, Cora public, seed 0
    result = train(TrainConfig(model, "cora", 16, hidden=64, data_dir=str(data_root)))
    assert result.test_acc >= threshold
    assert len(result.layer_energy) == 17


def test_names_any_case_environment_recorded_and_progress_lines_in_logs(tmp_path, capsys):
    assert main(["train", "--model", "GCN", "--dataset", "CSBM", "--depth", "2", "--epochs",
                 "100", "--patience", "100", "--out", str(tmp_path)]) == 0
    payload = read_result(tmp_path / "result.json")
    assert payload["model"] == "gcn" and payload["dataset"] == "csbm"
    assert payload["environment"]["threads"] >= 1
    assert "deterministic_algorithms" in payload["environment"]
    # stderr is not a terminal here: a line every 50 epochs
    err = capsys.readouterr().err
    assert "epoch 50/100" in err and "epoch 100/100" in err


def test_threads_option_environment_variable_and_busy_warning(tmp_path, monkeypatch, capsys):
    import os

    import torch

    threads = torch.get_num_threads()
    monkeypatch.setenv("EAMP_NUM_THREADS", str(threads))  # restored after the test
    try:
        assert main(["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2",
                     "--epochs", "2", "--threads", "1", "--out", str(tmp_path)]) == 0
        assert read_result(tmp_path / "result.json")["environment"]["threads"] == 1
        assert os.environ["EAMP_NUM_THREADS"] == "1"  # what worker processes split
        monkeypatch.setenv("EAMP_NUM_THREADS", "many")
        assert main(["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2",
                     "--out", str(tmp_path / "x")]) == 2
        assert "EAMP_NUM_THREADS: expected an integer" in capsys.readouterr().err
        monkeypatch.setenv("EAMP_NUM_THREADS", str(threads))
        monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))
        assert main(["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2",
                     "--epochs", "1", "--out", str(tmp_path / "y")]) == 0
        warning = [line for line in capsys.readouterr().err.splitlines() if "load" in line]
        assert len(warning) == 1 and "above its" in warning[0]
    finally:
        torch.set_num_threads(threads)
