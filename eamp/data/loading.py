"""Datasets: PyG's classes under one root, the paper's grid and a CSBM, all as undirected,
self-loop-free :class:`~torch_geometric.data.Data` objects with boolean split masks.

Masks are ``[n]`` for one split and ``[n, S]`` for datasets with ``S`` fixed splits
(geom-gcn splits of Planetoid, WebKB, Actor, the heterophilous sets); :func:`split_masks`
picks one column.

The data root is, in order: the ``root`` argument (``--data-dir``), the ``EAMP_DATA_DIR``
environment variable, then ``$XDG_CACHE_HOME/eamp/data`` (``~/.cache/eamp/data``). With
internet, PyG downloads missing raw files there as usual; without it, :class:`DatasetUnavailable`
says which files to put where.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset, download_url
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from eamp.data.catalog import (
    DATASETS,
    GRAPHS,
    LCC_SPLITS,
    SPLITS,
    DatasetInfo,
    DatasetUnavailable,
    cache_dir,
    check_dataset,
    data_root,
)

# the catalog's names are the package's (eamp.data), not this module's
__all__ = ["FilteredHeterophilous", "clean_graph", "csbm_graph", "dataset_lock", "grid_graph",
           "lcc_random_split", "load_dataset", "load_ogb", "num_splits", "split_masks"]


class FilteredHeterophilous(InMemoryDataset):
    r"""``chameleon_filtered`` and ``squirrel_filtered`` from `"A critical look at the
    evaluation of GNNs under heterophily" <https://arxiv.org/abs/2302.11640>`_: the same
    ``.npz`` layout as :class:`~torch_geometric.datasets.HeterophilousGraphDataset`, which
    PyG does not list these two under.

    Args:
        root (str): folder holding ``<name>/raw/<name>.npz``.
        name (str): ``"chameleon_filtered"`` or ``"squirrel_filtered"``.
    """

    url = "https://github.com/yandex-research/heterophilous-graphs/raw/main/data"
    names = ("chameleon_filtered", "squirrel_filtered")

    def __init__(self, root: str, name: str) -> None:
        if name not in self.names:
            raise ValueError(f"name: expected one of {self.names}, got {name!r}")
        self.name = name
        super().__init__(root)
        self.load(self.processed_paths[0])

    @property
    def raw_dir(self) -> str:
        return os.path.join(self.root, self.name, "raw")

    @property
    def processed_dir(self) -> str:
        return os.path.join(self.root, self.name, "processed")

    @property
    def raw_file_names(self) -> str:
        return f"{self.name}.npz"

    @property
    def processed_file_names(self) -> str:
        return "data.pt"

    def download(self) -> None:
        download_url(f"{self.url}/{self.name}.npz", self.raw_dir)

    def process(self) -> None:
        raw = np.load(self.raw_paths[0])
        edge_index = torch.from_numpy(raw["edges"]).t().contiguous().long()
        data = Data(
            x=torch.from_numpy(raw["node_features"]).float(),
            y=torch.from_numpy(raw["node_labels"]).long(),
            edge_index=to_undirected(edge_index, num_nodes=len(raw["node_labels"])),
            train_mask=torch.from_numpy(raw["train_masks"]).t().contiguous().bool(),
            val_mask=torch.from_numpy(raw["val_masks"]).t().contiguous().bool(),
            test_mask=torch.from_numpy(raw["test_masks"]).t().contiguous().bool(),
        )
        self.save([data], self.processed_paths[0])


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "public",
    normalize_features: bool = False,
    seed: int = 0,
    graph: str = "undirected",
) -> Data:
    """Loads ``name`` as an undirected graph without self-loops (or as loaded).

    Args:
        name (str): one of :func:`~eamp.data.catalog.dataset_names` (case-insensitive).
        root (path, optional): the data root (see the module's docs).
        split (str): ``"public"``, ``"geom-gcn"`` (the ten 60/20/20 splits) or
            ``"lcc-random"`` (GRAND's random splits of the largest component, ten of them:
            see :func:`lcc_random_split`); Cora and CiteSeer
            only. Other datasets come with their own splits. (default: ``"public"``)
        normalize_features (bool): scale each feature row to sum 1. (default: ``False``)
        seed (int): seed of the synthetic graphs. (default: ``0``)
        graph (str): ``"undirected"`` (made undirected, self-loops and duplicates removed) or
            ``"as-loaded"`` (the edges as the dataset class gives them, directions and
            self-loops kept; see :data:`~eamp.data.catalog.GRAPHS`). (default: ``"undirected"``)

    Returns:
        Data with ``x``, ``y``, ``edge_index``, ``train_mask``, ``val_mask``, ``test_mask``
        and ``name``.
    """
    key = check_dataset(name)
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if graph not in GRAPHS:
        raise ValueError(f"graph: expected one of {', '.join(GRAPHS)}, got {graph!r}")
    if key == "grid":
        data = grid_graph(seed=seed)
    elif key == "csbm":
        data = csbm_graph(seed=seed)
    else:
        if split != "public" and not DATASETS[key].planetoid:
            raise ValueError(
                f"split: {split!r} applies to cora and citeseer; {key} has its own splits"
            )
        if split == "lcc-random":
            data = lcc_random_split(clean_graph(_load_pyg(DATASETS[key], data_root(root),
                                                          "public")))
        else:
            data = _load_pyg(DATASETS[key], data_root(root), split)
    if graph == "undirected":
        data = clean_graph(data)
    if normalize_features:
        data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    data.name = key
    return data


def _writable(folder: Path) -> bool:
    """Whether PyG may write ``processed/`` into ``folder``. A folder without write
    permission counts as read-only even for root (who could write it anyway: a shared data
    folder is read-only by intent); then a probe file catches read-only mounts."""
    if not folder.exists():
        return True
    if not os.stat(folder).st_mode & stat.S_IWUSR or not os.access(folder, os.W_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


_ANNOUNCED: set[Path] = set()


def _processed_cache(info: DatasetInfo, source: Path, split: str) -> Path:
    """A writable root for a read-only ``source``: under the user cache, keyed by the source
    folder, whose raw folder is a link to the source's (read, never written)."""
    base = cache_dir()
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    root = base / "processed" / key
    raw = info.raw_dir(source, split)
    link = info.raw_dir(root, split)
    link.parent.mkdir(parents=True, exist_ok=True)
    for target, made in [(raw, link), *((source / p, root / p) for p in info.links)]:
        try:
            made.symlink_to(target.resolve(), target_is_directory=target.is_dir())
        except FileExistsError:
            pass  # made by an earlier run (or a worker beside this one)
    if source not in _ANNOUNCED:
        _ANNOUNCED.add(source)
        print(f"eamp: {source} is read-only: reading its raw files, keeping processed files "
              f"in {root}", file=sys.stderr)
    return root


def dataset_lock(name: str, root: Path, split: str) -> AbstractContextManager:
    """The lock one process holds while it downloads, processes or reads dataset ``name``
    under ``root``: PyG (and OGB) write ``processed/`` files in place and a second process
    that finds one half written fails to read it (two pool workers starting on the same
    dataset did). Kept under the user cache, keyed by ``root``, since ``root`` itself may be
    read-only."""
    key = hashlib.sha256(f"{Path(root).resolve()}|{name}|{split}".encode()).hexdigest()[:16]
    folder = cache_dir() / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable cache: load unlocked, as PyG does
        return contextlib.nullcontext()
    return FileLock(folder / f"{name}-{key}.lock")


def _load_pyg(info: DatasetInfo, root: Path, split: str) -> Data:
    missing = info.missing_files(root, split)
    if not missing and not _writable(info.raw_dir(root, split).parent):
        root = _processed_cache(info, root, split)
    existed = root.exists()
    try:
        with dataset_lock(info.name, root, split):
            return info.loader(root, split)
    except DatasetUnavailable:
        raise
    except Exception as error:  # PyG raises many kinds when a download or a read fails
        if not existed:
            shutil.rmtree(root, ignore_errors=True)  # a failed load leaves no folder behind
        folder = info.raw_dir(root, split)
        if not missing:
            raise DatasetUnavailable(
                f"dataset {info.name}: cannot read its files under {root} "
                f"({type(error).__name__}: {error}). A file may be truncated or corrupt: "
                f"delete {folder.parent / 'processed'} to rebuild it, or fetch the raw files "
                "again."
            ) from error
        raise DatasetUnavailable(
            f"dataset {info.name}: the raw files are missing and could not be downloaded "
            f"({type(error).__name__}: {error}). Put "
            f"{', '.join(os.path.relpath(os.path.normpath(p), folder) for p in missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''} ({len(missing)} files) into {folder}, "
            f"or point --data-dir / EAMP_DATA_DIR at a folder laid out as PyG's {info.name} "
            "dataset expects."
        ) from error


def load_ogb(root: str | os.PathLike, name: str) -> Data:
    """An OGB node-property dataset (``ogbn-arxiv``, ``ogbn-products``) under ``root`` in
    OGB's own layout (``<root>/ogbn_arxiv/raw``, ``split/<kind>``, ``RELEASE_v1.txt``), through
    ``ogb``'s ``PygNodePropPredDataset`` (downloaded the OGB way if missing), with the official
    split as masks. Its accuracy is OGB's ``Evaluator``'s (``tests/test_ogb.py`` checks that
    :func:`eamp.metrics.accuracy` equals it)."""
    try:
        from ogb.nodeproppred import PygNodePropPredDataset
    except ImportError:
        raise DatasetUnavailable(f"dataset {name}: needs the ogb package: pip install "
                                 "'eamp[ogb]' (or pip install ogb)") from None
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    folder = Path(root) / name.replace("-", "_")
    if folder.is_dir() and not (folder / "RELEASE_v1.txt").exists():
        # ogb would ask on standard input whether to delete the folder and download again
        raise DatasetUnavailable(f"dataset {name}: {folder} has no RELEASE_v1.txt (an old or "
                                 "partial copy); delete the folder to download it again")
    # ogb reads its processed file with torch.load, which since PyTorch 2.6 loads only
    # allowed classes: allow PyG's three, nothing else
    with (dataset_lock(name, Path(root), "official"),
          torch.serialization.safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage])):
        dataset = PygNodePropPredDataset(name, str(root))
    graph, index = dataset[0], dataset.get_idx_split()
    masks = {}
    for key, part in (("train_mask", "train"), ("val_mask", "valid"), ("test_mask", "test")):
        masks[key] = torch.zeros(graph.num_nodes, dtype=torch.bool)
        masks[key][index[part]] = True
    return Data(x=graph.x, y=graph.y.view(-1).long(), edge_index=graph.edge_index, **masks)


def lcc_random_split(data: Data, seeds: Sequence[int] = tuple(range(LCC_SPLITS)),
                     development: int = 1500, per_class: int = 20) -> Data:
    """GRAND's protocol (Chamberlain et al. 2021; github.com/twitter-research/graph-neural-pde,
    ``src/data.py`` and ``src/run_GNN.py``): the largest connected component (PyG's
    :class:`~torch_geometric.transforms.LargestConnectedComponents`, nodes kept in their
    order), and per split ``development`` nodes drawn at random, ``per_class`` of each class
    among them for training, the rest of them for validation, every other node for testing.
    The authors draw a new split for every run (``set_train_val_test_split`` with a seed from
    ``np.random.randint(0, 1000)``); eamp fixes the seeds, one split per entry of ``seeds``
    (the masks' columns, as the geom-gcn splits), each drawn with the authors' NumPy calls."""
    from torch_geometric.transforms import LargestConnectedComponents

    data = LargestConnectedComponents()(data)
    n = data.num_nodes
    labels = data.y.numpy()
    masks = [torch.zeros(n, len(seeds), dtype=torch.bool) for _ in range(3)]
    for column, seed in enumerate(seeds):
        rng = np.random.RandomState(seed)
        dev = rng.choice(n, development, replace=False)
        rng = np.random.RandomState(seed)
        train = np.concatenate([rng.choice(dev[labels[dev] == c], per_class, replace=False)
                                for c in range(int(labels.max()) + 1)])
        masks[0][torch.from_numpy(train), column] = True
        masks[1][torch.from_numpy(dev), column] = True
        masks[2][:, column] = True
        masks[2][torch.from_numpy(dev), column] = False
    masks[1] &= ~masks[0]
    if len(seeds) == 1:
        masks = [m[:, 0] for m in masks]
    data.train_mask, data.val_mask, data.test_mask = masks
    return data


def clean_graph(data: Data) -> Data:
    """Makes ``edge_index`` undirected, without self-loops or duplicates (the entropy's
    theorem assumes an undirected graph)."""
    edge_index, _ = remove_self_loops(data.edge_index)
    data.edge_index = coalesce(to_undirected(edge_index, num_nodes=data.num_nodes),
                               num_nodes=data.num_nodes)
    return data


def num_splits(data: Data) -> int:
    """How many fixed splits ``data`` carries (1 for a single split)."""
    return 1 if data.train_mask.dim() == 1 else int(data.train_mask.size(1))


def split_masks(data: Data, index: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """The train, validation and test masks of split ``index``."""
    count = num_splits(data)
    if not 0 <= index < count:
        raise ValueError(f"split: {data.get('name', 'this dataset')} has {count} split(s) "
                         f"(0..{count - 1}), got {index}")
    masks = (data.train_mask, data.val_mask, data.test_mask)
    return tuple(m if m.dim() == 1 else m[:, index] for m in masks)  # type: ignore[return-value]


# ------------------------------------------------------------------------- synthetic


def grid_graph(height: int = 10, width: int = 10, channels: int = 64, seed: int = 0) -> Data:
    """The 2-D grid of Rusch et al.'s oversmoothing survey: ``height x width`` nodes joined to
    their 4 neighbours, features drawn uniformly from [0, 1].

    Args:
        height (int): rows. (default: ``10``)
        width (int): columns. (default: ``10``)
        channels (int): feature width. (default: ``64``)
        seed (int): feature seed. (default: ``0``)
    """
    for arg, value in (("height", height), ("width", width), ("channels", channels)):
        if value < 1:
            raise ValueError(f"{arg}: expected an integer >= 1, got {value}")
    index = torch.arange(height * width).view(height, width)
    right = torch.stack([index[:, :-1].reshape(-1), index[:, 1:].reshape(-1)])
    down = torch.stack([index[:-1, :].reshape(-1), index[1:, :].reshape(-1)])
    edge_index = to_undirected(torch.cat([right, down], dim=1), num_nodes=height * width)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(height * width, channels, generator=gen)
    n = height * width
    mask = torch.ones(n, dtype=torch.bool)
    return Data(x=x, edge_index=edge_index, y=torch.zeros(n, dtype=torch.long),
                train_mask=mask, val_mask=mask.clone(), test_mask=mask.clone())


def csbm_graph(
    num_nodes: int = 1000,
    num_classes: int = 3,
    homophily: float = 0.8,
    avg_degree: float = 10.0,
    channels: int = 32,
    signal: float = 1.0,
    seed: int = 0,
) -> Data:
    r"""A contextual stochastic block model: class-balanced nodes, Gaussian features around
    a random class mean (:math:`\mathbf{x}_i = \text{signal}\cdot\mu_{y_i} + \varepsilon`),
    and edges whose expected share within a class is ``homophily``. Random 60/20/20 split.

    Args:
        num_nodes (int): :math:`n`. (default: ``1000``)
        num_classes (int): classes. (default: ``3``)
        homophily (float): expected fraction of intra-class edges, in [0, 1]. (default: ``0.8``)
        avg_degree (float): expected degree. (default: ``10``)
        channels (int): feature width. (default: ``32``)
        signal (float): distance of class means in units of the noise. (default: ``1.0``)
        seed (int): seed of everything random. (default: ``0``)
    """
    if not 0 <= homophily <= 1:
        raise ValueError(f"homophily: expected a number in [0, 1], got {homophily}")
    if num_classes < 2 or num_nodes < 2 * num_classes:
        raise ValueError(f"num_classes: expected 2 <= num_classes <= num_nodes / 2, got "
                         f"{num_classes} classes for {num_nodes} nodes")
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % num_classes
    y = y[torch.randperm(num_nodes, generator=gen)]
    means = torch.randn(num_classes, channels, generator=gen)
    x = signal * means[y] + torch.randn(num_nodes, channels, generator=gen)
    members = [torch.nonzero(y == c).view(-1) for c in range(num_classes)]
    num_edges = int(num_nodes * avg_degree / 2)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    same = torch.rand(num_edges, generator=gen) < homophily
    offset = torch.randint(1, num_classes, (num_edges,), generator=gen)
    target_class = torch.where(same, y[src], (y[src] + offset) % num_classes)
    dst = torch.empty_like(src)
    for c, nodes in enumerate(members):
        pick = target_class == c
        dst[pick] = nodes[torch.randint(0, len(nodes), (int(pick.sum()),), generator=gen)]
    perm = torch.randperm(num_nodes, generator=gen)
    n_train, n_val = int(0.6 * num_nodes), int(0.2 * num_nodes)
    masks = [torch.zeros(num_nodes, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:n_train]] = True
    masks[1][perm[n_train:n_train + n_val]] = True
    masks[2][perm[n_train + n_val:]] = True
    return Data(x=x, y=y, edge_index=torch.stack([src, dst]), train_mask=masks[0],
                val_mask=masks[1], test_mask=masks[2])
