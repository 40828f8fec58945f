"""OGB's node-property datasets through ogb's own loader, on a tiny dataset written in the
layout ``PygNodePropPredDataset`` reads (the real ones are downloaded, or too large here)."""

import shutil
import stat
import sys

import numpy as np
import pytest
import torch
from torch_geometric.utils import contains_self_loops, is_undirected

from eamp.data import DATASETS, DatasetUnavailable, load_dataset

pytest.importorskip("ogb", reason="the optional extra eamp[ogb] is not installed")


def write_tiny_arxiv(root, n=30, edges=60, classes=4, seed=0):
    """``<root>/ogbn_arxiv`` as OGB ships it: raw CSVs (gzip), the time split, the release."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    folder = root / "ogbn_arxiv"
    (folder / "raw").mkdir(parents=True)
    (folder / "split" / "time").mkdir(parents=True)

    def write(path, values):
        pd.DataFrame(values).to_csv(folder / path, header=False, index=False,
                                    compression="gzip")

    write("raw/edge.csv.gz", rng.integers(0, n, (edges, 2)))
    write("raw/node-feat.csv.gz", rng.standard_normal((n, 8)).astype(np.float32))
    write("raw/node-label.csv.gz", (np.arange(n) % classes)[:, None])
    write("raw/node_year.csv.gz", rng.integers(2000, 2020, (n, 1)))
    write("raw/num-node-list.csv.gz", np.array([[n]]))
    write("raw/num-edge-list.csv.gz", np.array([[edges]]))
    order = rng.permutation(n)
    write("split/time/train.csv.gz", order[:18, None])
    write("split/time/valid.csv.gz", order[18:24, None])
    write("split/time/test.csv.gz", order[24:, None])
    (folder / "RELEASE_v1.txt").touch()
    return order


def test_ogbn_arxiv_loads_with_its_official_split(tmp_path):
    order = write_tiny_arxiv(tmp_path)
    assert DATASETS["ogbn-arxiv"].missing_files(tmp_path) == []
    data = load_dataset("ogbn-arxiv", tmp_path)
    assert data.num_nodes == 30 and data.num_features == 8 and data.y.shape == (30,)
    assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
    for mask, part in ((data.train_mask, order[:18]), (data.val_mask, order[18:24]),
                       (data.test_mask, order[24:])):
        assert sorted(mask.nonzero().view(-1).tolist()) == sorted(part.tolist())
    assert load_dataset("ogbn-arxiv", tmp_path).num_nodes == 30  # from processed files


def test_eamps_accuracy_is_ogbs_evaluator(tmp_path):
    from ogb.nodeproppred import Evaluator

    from eamp.metrics import accuracy

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 40, generator=gen)
    y = torch.randint(0, 40, (50,), generator=gen)
    y[:10] = logits[:10].argmax(-1)  # some right
    mask = torch.rand(50, generator=gen) < 0.7
    official = Evaluator("ogbn-arxiv").eval(
        {"y_true": y[mask].view(-1, 1), "y_pred": logits[mask].argmax(-1).view(-1, 1)})["acc"]
    assert accuracy(logits, y, mask) == pytest.approx(official, abs=1e-7)  # a float32 mean


def test_a_read_only_ogb_folder_is_read_in_place(tmp_path, monkeypatch):
    source = tmp_path / "shared"
    write_tiny_arxiv(source)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folders = [p for p in source.rglob("*") if p.is_dir()] + [source]
    for folder in folders:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        data = load_dataset("ogbn-arxiv", source)
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert data.num_nodes == 30 and not (source / "ogbn_arxiv" / "processed").exists()


def test_an_ogb_folder_without_its_release_file_is_one_clear_error(tmp_path):
    write_tiny_arxiv(tmp_path)
    (tmp_path / "ogbn_arxiv" / "RELEASE_v1.txt").unlink()
    # ogb itself would ask on standard input whether to delete and download
    with pytest.raises(DatasetUnavailable, match="RELEASE_v1.txt"):
        load_dataset("ogbn-arxiv", tmp_path)


def test_offline_without_files_names_what_to_put_where(tmp_path, monkeypatch):
    import ogb.nodeproppred.dataset_pyg as ogb_dataset

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(ogb_dataset, "decide_download", offline)  # never download in a test
    with pytest.raises(DatasetUnavailable, match=r"raw files are missing.*ogbn_arxiv/raw"):
        load_dataset("ogbn-arxiv", tmp_path / "empty")


def test_without_ogb_installed_the_error_says_how_to_get_it(tmp_path, monkeypatch):
    write_tiny_arxiv(tmp_path)
    monkeypatch.setitem(sys.modules, "ogb.nodeproppred", None)  # import fails
    with pytest.raises(DatasetUnavailable, match=r"pip install 'eamp\[ogb\]'"):
        load_dataset("ogbn-arxiv", tmp_path)
    shutil.rmtree(tmp_path / "ogbn_arxiv")
