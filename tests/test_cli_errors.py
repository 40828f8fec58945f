"""Every bad command line ends in one line `eamp: error: ...`, exit code 2, no traceback,
and nothing written."""

import json
import shutil

import pytest

from eamp.cli import main

TRAIN = ["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--epochs", "2"]
TUNE = ["tune", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--epochs", "2",
        "--trials", "1"]


def _configs(folder):
    files = {
        "list.json": [1, 2], "string.json": "gcn", "lr.json": {"model": "gcn", "dataset":
        "csbm", "depth": 2, "lr": "fast"}, "model.json": {"model": ["gcn"], "dataset": "csbm",
        "depth": 2}, "options.json": {"model": "gcn", "dataset": "csbm", "depth": 2,
        "model_options": [1]}, "flag.json": {"model": "gcn", "dataset": "csbm", "depth": 2,
        "normalize_features": "yes"},
    }
    for name, payload in files.items():
        (folder / name).write_text(json.dumps(payload))
    (folder / "broken.json").write_text("{\"model\": ")
    (folder / "tuned" / "gcn").mkdir(parents=True)
    (folder / "tuned" / "gcn" / "best.json").write_text(json.dumps({"value": 0.8}))
    (folder / "a_file").write_text("x")


CASES = [
    (TRAIN + ["--lr", "inf"], "lr"),
    (TRAIN + ["--lr", "nan"], "lr"),
    (TRAIN + ["--weight-decay", "inf"], "weight_decay"),
    (TRAIN + ["--dropout", "-0.1"], "dropout"),
    (TRAIN + ["--seed", "1.5"], "seed"),
    (TRAIN + ["--split-index", "x"], "split_index"),
    (TRAIN + ["--split-index", "-1"], "split_index"),
    (TRAIN + ["--option", "nope=1"], "gcn does not take nope"),
    (TRAIN + ["--option", "p"], "KEY=VALUE"),
    (["train", "--model", "g2", "--dataset", "csbm", "--depth", "2", "--option", "p=abc"],
     "p: expected a number"),
    (["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3", "--option",
      "detach=maybe"], "detach: expected true or false"),
    (["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3", "--option",
      "normalize=null"], "normalize: expected true or false"),
    (["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3",
      "--temperature", "inf"], "temperature"),
    (["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3",
      "--schedule", "cosine"], "schedule"),
    (["train", "--model", "gcn", "--dataset", "csbm", "--depth", "1000000"], "GiB"),
    (["train", "--model", "gcn", "--dataset", "csbm", "--depth", "2", "--hidden",
      "100000000"], "GiB"),
    (TRAIN + ["--config", "{tmp}/list.json"], "--config: expected a JSON object"),
    (TRAIN + ["--config", "{tmp}/string.json"], "--config: expected a JSON object"),
    (TRAIN + ["--config", "{tmp}/broken.json"], "--config: cannot read"),
    (TRAIN + ["--config", "{tmp}/missing.json"], "--config: cannot read"),
    (["train", "--config", "{tmp}/lr.json"], "lr: expected a number"),
    (["train", "--config", "{tmp}/model.json"], "model: unknown name"),
    (["train", "--config", "{tmp}/options.json"], "model_options"),
    (["train", "--config", "{tmp}/flag.json"], "normalize_features"),
    (TRAIN + ["--out", "{tmp}/a_file"], "--out"),
    (TRAIN + ["--out", "{tmp}/a_file/below"], "--out"),
    (TUNE + ["--storage", "foo://bar"], "storage: cannot open"),
    (TUNE + ["--storage", "sqlite:////nonexistent/folder/x.db"], "storage: cannot open"),
    (TUNE + ["--storage", "journal:/nonexistent/folder/x.log"], "storage: cannot open"),
    (TUNE + ["--only", "entropy_weight"], "only: expected names from gcn's search space"),
    (TRAIN + ["--device", "gpu"], "device: expected auto, cpu, cuda"),
    (TRAIN + ["--device", "cuda:x"], "device: expected"),
    (TRAIN + ["--precision", "bf16"], "--precision: invalid choice"),
    (["reproduce", "--quick", "--device", "tpu"], "device: expected"),
    (["oversmoothing", "--device", "tpu"], "device: expected"),
    (["reproduce", "--quick", "--tuned", "{tmp}/nothing"], "no such folder"),
    (["reproduce", "--quick", "--tuned", "{tmp}/tuned"], "not a best.json"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(c[0][-2:]) for c in CASES])
def test_bad_command_line_exits_2_with_one_line_and_writes_nothing(args, message, tmp_path,
                                                                   capsys):
    _configs(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out" / "run")]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("eamp: error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # no output folder, no stray file


def test_options_are_parsed_to_the_type_the_model_declares(tmp_path):
    assert main(["train", "--model", "entropic_gcn", "--dataset", "csbm", "--depth", "3",
                 "--epochs", "1", "--option", "detach=False", "--option",
                 "learn_temperature=no", "--option", "schedule_gain=2",
                 "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "result.json").read_text())["config"]
    assert config["model_options"] == {"detach": False, "learn_temperature": False,
                                       "schedule_gain": 2.0}


def test_a_config_file_never_chooses_the_data_folder(tmp_path, data_root):
    # a data folder is code PyG unpickles: a config may come from anywhere
    (tmp_path / "c.json").write_text(json.dumps({"model": "gcn", "dataset": "cora",
                                                 "depth": 2, "epochs": 1,
                                                 "data_dir": str(data_root)}))
    code = main(["train", "--config", str(tmp_path / "c.json"), "--out", str(tmp_path / "o"),
                 "--data-dir", str(data_root)])
    assert code == 0
    assert json.loads((tmp_path / "o" / "result.json").read_text())["config"]["data_dir"] \
        == str(data_root)
    from eamp.cli.parser import build_parser
    from eamp.cli.settings import config_from_args
    from eamp.cli.settings import read_config as _read_config

    args = build_parser().parse_args(["train", "--out", "x"])
    assert config_from_args(args, _read_config(str(tmp_path / "c.json"))).data_dir is None


def test_corrupt_dataset_files_are_one_line(tmp_path, data_root, capsys):
    root = tmp_path / "data"
    shutil.copytree(data_root / "Cora" / "raw", root / "Cora" / "raw")
    raw = root / "Cora" / "raw" / "ind.cora.x"
    raw.write_bytes(raw.read_bytes()[:100])  # truncated
    code = main(["train", "--model", "gcn", "--dataset", "cora", "--depth", "2",
                 "--data-dir", str(root), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot read" in err, err
    assert not (tmp_path / "out").exists()
    assert main(["datasets", "--data-dir", str(root)]) == 0
    line = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("cora "))
    assert "unreadable" in line


def test_a_failed_load_does_not_create_the_data_folder(tmp_path, monkeypatch, capsys):
    import torch_geometric.datasets.planetoid as planetoid

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(planetoid.fs, "cp", offline)
    missing = tmp_path / "nowhere"
    assert main(["train", "--model", "gcn", "--dataset", "cora", "--depth", "2",
                 "--data-dir", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert not missing.exists()


def test_results_are_written_with_the_users_umask(tmp_path):
    import os

    from eamp.io import write_json_atomic

    old = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_entropic_model_refuses_a_graph_as_loaded():
    from eamp.training import TrainConfig

    with pytest.raises(ValueError, match="graph: entropic_gcn needs an undirected graph"):
        TrainConfig("entropic_gcn", "texas", 2, graph="as-loaded")
    assert TrainConfig("g2", "texas", 2, graph="as-loaded").graph == "as-loaded"
    assert TrainConfig.from_preset("g2-rusch2023", "texas").graph == "as-loaded"


def test_a_closed_stdout_ends_the_command_quietly(tmp_path):
    """`eamp ... | head`: the reader is gone before eamp writes; no traceback."""
    import subprocess
    import sys

    command = "from eamp.cli import main; raise SystemExit(main())"
    process = subprocess.Popen([sys.executable, "-c", command, "benchmark", "--suite",
                                "fidelity-quick", "--out", str(tmp_path / "out"), "--plan"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # long before the interpreter has started and printed
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert stderr == ""
