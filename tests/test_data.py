import dataclasses
import shutil
import stat

import pytest
import torch
from torch_geometric.utils import contains_self_loops, is_undirected

from eamp.data import (
    DATASETS,
    DatasetUnavailable,
    csbm_graph,
    data_root,
    dataset_names,
    grid_graph,
    load_dataset,
    num_splits,
    split_masks,
)


def test_grid_is_the_4_neighbour_10x10_grid():
    data = grid_graph(seed=3)
    assert data.num_nodes == 100 and data.x.shape == (100, 64)
    assert data.edge_index.size(1) == 2 * (2 * 10 * 9)  # 180 undirected edges
    degree = torch.bincount(data.edge_index[1], minlength=100)
    assert sorted(set(degree.tolist())) == [2, 3, 4]
    assert int((degree == 2).sum()) == 4
    assert 0 <= float(data.x.min()) and float(data.x.max()) <= 1
    assert torch.equal(grid_graph(seed=3).x, data.x)
    assert not torch.equal(grid_graph(seed=4).x, data.x)


@pytest.mark.parametrize("homophily", [0.1, 0.9])
def test_csbm_homophily_and_split(homophily):
    data = load_dataset("csbm") if homophily == 0.9 else None
    data = csbm_graph(num_nodes=600, homophily=homophily, seed=1)
    src, dst = data.edge_index
    measured = float((data.y[src] == data.y[dst]).float().mean())
    assert abs(measured - homophily) < 0.05
    masks = data.train_mask.int() + data.val_mask.int() + data.test_mask.int()
    assert (masks == 1).all()
    with pytest.raises(ValueError, match="homophily"):
        csbm_graph(homophily=1.5)


def test_synthetic_graphs_come_back_undirected_without_self_loops():
    for name in ("grid", "csbm"):
        data = load_dataset(name)
        assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
        assert data.name == name


def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("EAMP_DATA_DIR", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("EAMP_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "eamp" / "data"


def test_missing_raw_files_name_the_files_and_folder(tmp_path, monkeypatch):
    # no raw files, and downloads fail: the message says what to put where
    import torch_geometric.datasets.planetoid as planetoid

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(planetoid.fs, "cp", offline)
    with pytest.raises(DatasetUnavailable, match=r"ind\.cora\.x.*Cora/raw"):
        load_dataset("cora", tmp_path)


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="choose one of cora, citeseer"):
        load_dataset("pubmed")
    with pytest.raises(ValueError, match="split"):
        load_dataset("cora", split="random")
    with pytest.raises(ValueError, match="geom-gcn"):
        load_dataset("texas", split="geom-gcn")


def test_cora_public_and_geom_gcn_splits(data_root):
    data = load_dataset("cora", data_root)
    assert data.num_nodes == 2708 and data.num_features == 1433
    assert data.edge_index.size(1) == 10556
    assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
    assert [int(m.sum()) for m in split_masks(data)] == [140, 500, 1000]
    geom = load_dataset("cora", data_root, split="geom-gcn")
    assert num_splits(geom) == 10
    train, val, test = split_masks(geom, 3)
    assert not (train & test).any()
    with pytest.raises(ValueError, match="10 split"):
        split_masks(geom, 10)
    normalized = load_dataset("citeseer", data_root, normalize_features=True)
    sums = normalized.x.sum(-1)
    assert torch.allclose(sums[sums > 0], torch.ones_like(sums[sums > 0]))


def test_every_shared_dataset_loads(all_data_root):
    for name in DATASETS:
        if name.startswith("ogbn-"):
            continue  # not in ../shared/data (too large): tests/test_ogb.py writes a tiny one
        assert not DATASETS[name].missing_files(all_data_root), name
        data = load_dataset(name, all_data_root)
        assert is_undirected(data.edge_index) and not contains_self_loops(data.edge_index)
        assert data.x.size(0) == data.y.size(0) == data.num_nodes
        assert num_splits(data) == (1 if name in ("cora", "citeseer") else 10), name
    assert set(dataset_names()) >= {"cora", "citeseer", "texas", "actor", "tolokers",
                                    "chameleon_filtered", "squirrel_filtered", "grid", "csbm"}


def test_a_read_only_data_folder_is_read_in_place(tmp_path, data_root, monkeypatch, capsys):
    source = tmp_path / "shared"
    shutil.copytree(data_root / "Cora" / "raw", source / "Cora" / "raw")
    for folder in (source, source / "Cora", source / "Cora" / "raw"):
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    before = sorted((p.relative_to(source), p.stat().st_mtime_ns) for p in source.rglob("*"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        data = load_dataset("cora", source)
        again = load_dataset("cora", source)  # from the cache's processed files
    finally:
        for folder in (source, source / "Cora", source / "Cora" / "raw"):
            folder.chmod(0o755)
    assert data.num_nodes == again.num_nodes == 2708
    assert sorted((p.relative_to(source), p.stat().st_mtime_ns)
                  for p in source.rglob("*")) == before  # nothing written into the source
    assert list((tmp_path / "cache" / "eamp" / "processed").glob("*/Cora/processed/*.pt"))
    assert capsys.readouterr().err.count("is read-only") == 1  # said once


def test_lcc_random_split_is_grands_split_of_the_largest_component(data_root):
    import numpy as np
    from scipy.sparse.csgraph import connected_components
    from torch_geometric.utils import to_scipy_sparse_matrix

    from eamp.data import lcc_random_split, split_masks
    from eamp.data.catalog import LCC_SPLITS

    data = load_dataset("cora", data_root, split="lcc-random")
    count, _ = connected_components(to_scipy_sparse_matrix(data.edge_index,
                                                           num_nodes=data.num_nodes))
    assert count == 1 and data.num_nodes == 2485  # Cora's largest component
    assert data.train_mask.shape == (2485, LCC_SPLITS) == data.test_mask.shape
    for index in range(LCC_SPLITS):
        train, val, test = split_masks(data, index)
        assert int(train.sum()) == 7 * 20 and int((train | val).sum()) == 1500
        assert not (train & val).any() and not ((train | val) & test).any()
        assert bool((train | val | test).all())
        assert torch.bincount(data.y[train]).tolist() == [20] * 7
        # the authors' draws (set_train_val_test_split) with this split's seed
        rng = np.random.RandomState(index)
        dev = rng.choice(2485, 1500, replace=False)
        assert torch.equal(torch.where(train | val)[0], torch.from_numpy(np.sort(dev)))
    assert not torch.equal(data.train_mask[:, 0], data.train_mask[:, 1])  # drawn anew
    again = load_dataset("cora", data_root, split="lcc-random")
    assert torch.equal(again.train_mask, data.train_mask)  # fixed seeds 0..9
    one = lcc_random_split(load_dataset("cora", data_root), seeds=(12345,))
    assert one.train_mask.dim() == 1 and int(one.train_mask.sum()) == 140
    with pytest.raises(ValueError, match="'lcc-random' applies to cora and citeseer"):
        load_dataset("texas", data_root, split="lcc-random")


def test_a_graph_as_loaded_keeps_directions_and_self_loops(all_data_root):
    from torch_geometric.datasets import WebKB

    raw = WebKB(str(all_data_root), "texas")[0]
    kept = load_dataset("texas", all_data_root, graph="as-loaded")
    assert torch.equal(kept.edge_index, raw.edge_index)
    assert not is_undirected(kept.edge_index) and contains_self_loops(kept.edge_index)
    clean = load_dataset("texas", all_data_root)
    assert is_undirected(clean.edge_index) and not contains_self_loops(clean.edge_index)
    with pytest.raises(ValueError, match="graph: expected one of undirected, as-loaded"):
        load_dataset("texas", all_data_root, graph="directed")


def test_a_dataset_is_loaded_by_one_process_at_a_time(tmp_path, data_root, monkeypatch):
    # two pool workers that processed squirrel_filtered at once left one reading the other's
    # half-written data.pt; while another process holds the dataset's lock, a load waits
    import threading

    from eamp import data as data_module
    from eamp.data.catalog import DATASETS

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "data"
    shutil.copytree(data_root / "Cora", root / "Cora")
    info = DATASETS["cora"]
    entered = threading.Event()
    real = info.loader

    def loader(*args):
        entered.set()
        return real(*args)

    info = dataclasses.replace(info, loader=loader)
    monkeypatch.setitem(DATASETS, "cora", info)
    loaded: list = []
    with data_module.dataset_lock("cora", root, "public"):
        worker = threading.Thread(target=lambda: loaded.append(load_dataset("cora", root)))
        worker.start()
        assert not entered.wait(1.0)  # held here: the load has not started reading
    worker.join(60)
    assert entered.is_set() and loaded[0].num_nodes == 2708
