"""A run interrupted anywhere continues from its saved training state and ends with the
numbers of an uninterrupted run, bit for bit."""

from dataclasses import replace

import pytest
import torch

from eamp.data import load_dataset
from eamp.training import TrainConfig, train


class Stop(Exception):
    pass


def _stop_at(step: int):
    def on_epoch(epoch: int, val_score: float) -> None:
        if epoch == step:
            raise Stop

    return on_epoch


def _same(first, second) -> None:
    # every result but the wall times (epoch_time_s, each split's epoch_times)
    for key in ("val_score", "test_score", "val_loss", "best_val_acc", "test_acc",
                "layer_energy", "layer_mad", "splits", "num_parameters"):
        a, b = getattr(first, key), getattr(second, key)
        if key == "splits":
            a = [{k: v for k, v in s.items() if k != "epoch_times"} for s in a]
            b = [{k: v for k, v in s.items() if k != "epoch_times"} for s in b]
        assert a == b, key


# dropout (the global random state), a learned entropy weight, cluster batching (its own
# shuffle generator) and an early stop by patience
CASES = {
    "gat": TrainConfig("resgnn", "csbm", 3, hidden=8, epochs=12, patience=12, dropout=0.5,
                       model_options={"conv": "gat", "heads": 2}),
    "entropic": TrainConfig("entropic_gcn", "csbm", 3, hidden=8, epochs=12, patience=12,
                            dropout=0.3, model_options={"temperature": 1.0}),
    "cluster": TrainConfig("gcn", "csbm", 2, hidden=8, epochs=12, patience=12, dropout=0.5,
                           batching="cluster", num_parts=4, parts_per_batch=2),
    "patience": TrainConfig("gcn", "csbm", 2, hidden=8, epochs=60, patience=2, dropout=0.5,
                            lr=0.2),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("stop", [0, 5])
def test_an_interrupted_run_resumes_to_the_uninterrupted_result(case, stop, tmp_path, capsys):
    config = CASES[case]
    expected = train(config)
    state = tmp_path / "state.pt"
    with pytest.raises(Stop):
        train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(stop))
    assert state.exists() and capsys.readouterr().err == ""
    resumed = train(config, state_file=state, save_every_s=0)
    assert f"continuing from its saved training state (split 0, epoch {stop + 1}, " \
        in capsys.readouterr().err
    _same(resumed, expected)
    assert resumed.environment["resumed"] == 1 and "resumed" not in expected.environment
    assert not state.exists()  # removed once the run has ended


def test_a_run_interrupted_in_the_epoch_it_stops_early_stops_there(tmp_path):
    config = CASES["patience"]
    expected = train(config)
    last = expected.splits[0]["epochs_run"] - 1
    assert last + 1 < config.epochs  # it does stop early
    state = tmp_path / "state.pt"
    with pytest.raises(Stop):
        train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(last))
    _same(train(config, state_file=state, save_every_s=0), expected)


def test_a_run_interrupted_twice_counts_its_resumes_and_time(tmp_path):
    config = CASES["gat"]
    state = tmp_path / "state.pt"
    for stop in (2, 6):
        with pytest.raises(Stop):
            train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(stop))
    saved = torch.load(state, weights_only=True)["elapsed_s"]
    resumed = train(config, state_file=state, save_every_s=0)
    _same(resumed, train(config))
    assert resumed.environment["resumed"] == 2
    assert resumed.wall_time_s > saved > 0


def test_a_multi_split_run_keeps_its_finished_splits(all_data_root, tmp_path):
    data = load_dataset("texas", all_data_root)
    config = TrainConfig("gcn", "texas", 2, hidden=8, epochs=4, patience=4, dropout=0.5,
                         split_index="all")
    state = tmp_path / "state.pt"
    with pytest.raises(Stop):  # in split 3's second epoch
        train(config, data, state_file=state, save_every_s=0, on_epoch=_stop_at(3 * 4 + 1))
    steps: list[int] = []
    resumed = train(config, data, state_file=state, save_every_s=0,
                    on_epoch=lambda step, _: steps.append(step))
    assert steps[0] == 3 * 4 + 2  # splits 0-2 and split 3's first two epochs are not redone
    _same(resumed, train(config, data))


def test_a_state_of_other_settings_or_unreadable_is_said_and_replaced(tmp_path, capsys):
    config = CASES["gat"]
    state = tmp_path / "state.pt"
    with pytest.raises(Stop):
        train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(3))
    other = replace(config, dropout=0.4)
    result = train(other, state_file=state, save_every_s=0)
    assert "a training state of other settings (dropout 0.5 -> 0.4)" in capsys.readouterr().err
    _same(result, train(other))
    assert "resumed" not in result.environment
    state.write_bytes(b"not a state")
    result = train(config, state_file=state)
    assert "not a readable training state" in capsys.readouterr().err
    _same(result, train(config))


def test_save_every_s_is_checked(tmp_path):
    with pytest.raises(ValueError, match="save_every_s: expected a finite number >= 0"):
        train(CASES["gat"], state_file=tmp_path / "state.pt", save_every_s=-1)


def test_the_run_store_resumes_a_run_in_flight_and_force_starts_over(tmp_path):
    from eamp.runs.store import RunSpec, run_all, state_path
    from eamp.training import read_result

    config = CASES["gat"]
    spec = RunSpec("standard", config)
    state = state_path(tmp_path / spec.relpath)
    with pytest.raises(Stop):  # a sweep killed in the middle of this run
        train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(4))
    assert run_all([spec], tmp_path, workers=1, force=False).trained == 1
    stored = read_result(tmp_path / spec.relpath)
    assert stored["environment"]["resumed"] == 1 and not state.exists()
    assert stored["test_score"] == train(config).test_score
    with pytest.raises(Stop):
        train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(4))
    run_all([spec], tmp_path, workers=1, force=True)
    assert "resumed" not in read_result(tmp_path / spec.relpath)["environment"]


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no CUDA device here (this torch or this machine has none)")
@pytest.mark.parametrize("precision", ["32", "16-mixed"])
def test_a_run_on_a_gpu_resumes(precision, tmp_path):
    # the GPU's random state and, in float16, the gradient scaler's are saved and restored;
    # PyG's scatter on a GPU adds in no fixed order, so the curves agree closely, not bit
    # for bit
    config = replace(CASES["gat"], device="cuda", precision=precision)
    expected = train(config)
    state = tmp_path / "state.pt"
    with pytest.raises(Stop):
        train(config, state_file=state, save_every_s=0, on_epoch=_stop_at(5))
    resumed = train(config, state_file=state, save_every_s=0)
    assert resumed.environment["resumed"] == 1
    assert resumed.splits[0]["val_loss_curve"] == pytest.approx(
        expected.splits[0]["val_loss_curve"], abs=1e-2)
