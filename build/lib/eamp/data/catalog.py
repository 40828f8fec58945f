"""What eamp knows about each dataset without loading it (and without importing PyTorch):
names, raw files, where they go, the metric its papers report, and the data root.

:mod:`eamp.data` loads them; the command line reads this module to check names and list
datasets in a fraction of a second.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["BATCHING", "DATASETS", "GRAPHS", "PARTITIONS", "LCC_SPLITS", "METRICS", "OPTIMIZERS",
           "SPLITS", "SYNTHETIC",
           "DatasetInfo", "DatasetUnavailable", "check_dataset", "data_root", "dataset_metric",
           "dataset_names"]

# Planetoid's splits: the public one, the ten 60/20/20 splits of Geom-GCN, and GRAND's: the
# largest connected component with 20 training nodes per class drawn from 1500 development
# nodes (the rest of them validate), every other node tested (Chamberlain et al. 2021), drawn
# anew for each of LCC_SPLITS splits
SPLITS = ("public", "geom-gcn", "lcc-random")
LCC_SPLITS = 10
SYNTHETIC = ("grid", "csbm")
# what a dataset's results are scored by: accuracy, or ROC AUC of the positive class for the
# binary, imbalanced sets whose paper reports it (Platonov et al., ICLR 2023, Table 2)
METRICS = ("accuracy", "roc_auc")
# the graph a model trains on: made undirected and stripped of self-loops (what the entropy's
# theorem assumes; the default), or as the dataset class loads it, edge directions and
# self-loops kept (what G2's authors trained on for WebKB)
GRAPHS = ("undirected", "as-loaded")
# torch.optim's optimizers a run may train with (GRAND's authors train Cora with Adamax)
OPTIMIZERS = ("adam", "adamax")
# how a run walks the graph: the whole graph every step, or Cluster-GCN batches of parts
# (eamp.data.batching), cut by METIS or at random
BATCHING = ("full", "cluster")
PARTITIONS = ("metis", "random")


class DatasetUnavailable(RuntimeError):
    """The raw files are neither on disk nor downloadable."""


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset PyG reads from raw files under a root.

    Args:
        name (str): eamp's name (lower case).
        summary (str): one line for ``eamp datasets``.
        raw_dir: ``(root, split) -> folder`` of the raw files.
        raw_files: ``split -> file names``.
        loader: ``(root, split) -> Data`` (imports PyG when called).
        metric (str): ``"accuracy"`` or ``"roc_auc"``. (default: ``"accuracy"``)
        planetoid (bool): takes every split of :data:`SPLITS` (Cora and CiteSeer); the others
            come with splits of their own. (default: ``False``)
        links (tuple of str): paths under the root, besides the raw folder, that the loader
            reads (OGB's split folder); linked into the processed-file cache of a read-only
            root with it. (default: ``()``)
    """

    name: str
    summary: str
    raw_dir: Callable[[Path, str], Path]
    raw_files: Callable[[str], list[str]]
    loader: Callable[[Path, str], Data]
    metric: str = "accuracy"
    planetoid: bool = False
    links: tuple[str, ...] = ()

    def missing_files(self, root: Path, split: str = "public") -> list[Path]:
        folder = self.raw_dir(root, split)
        return [folder / f for f in self.raw_files(split) if not (folder / f).exists()]


_PLANETOID_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def _pyg(cls_name: str, module: str = "torch_geometric.datasets") -> Callable[..., Any]:
    """The dataset class ``module.cls_name``, imported when a dataset is loaded."""
    def cls(*args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls_name)(*args, **kwargs)
    return cls


def _planetoid(pyg_name: str, name: str) -> DatasetInfo:
    def files(split: str) -> list[str]:
        names = [f"ind.{name}.{s}" for s in _PLANETOID_SUFFIXES]
        if split == "geom-gcn":
            names += [f"{name}_split_0.6_0.2_{i}.npz" for i in range(10)]
        return names

    def raw_dir(root: Path, split: str) -> Path:
        base = root / pyg_name
        return base / "geom-gcn" / "raw" if split == "geom-gcn" else base / "raw"

    return DatasetInfo(name, f"{pyg_name} citations (Planetoid)", raw_dir, files,
                       lambda root, split: _pyg("Planetoid")(str(root), pyg_name,
                                                             split=split)[0],
                       planetoid=True)


def _webkb(name: str) -> DatasetInfo:
    return DatasetInfo(
        name, f"WebKB {name} (heterophilous web pages, 10 geom-gcn splits)",
        lambda root, split: root / name / "raw",
        lambda split: ["out1_node_feature_label.txt", "out1_graph_edges.txt"]
        + [f"{name}_split_0.6_0.2_{i}.npz" for i in range(10)],
        lambda root, split: _pyg("WebKB")(str(root), name)[0],
    )


def _heterophilous(name: str, summary: str, cls: Callable[..., Any],
                   metric: str = "accuracy") -> DatasetInfo:
    """One ``<name>/raw/<name>.npz`` of Platonov et al. (2023), read by ``cls``."""
    return DatasetInfo(
        name, f"{name} (Platonov et al. 2023, {summary})",
        lambda root, split: root / name / "raw",
        lambda split: [f"{name}.npz"],
        lambda root, split: cls(str(root), name)[0],
        metric=metric,
    )


def _ogb(name: str, summary: str, split: str, extra_files: tuple[str, ...] = ()
         ) -> DatasetInfo:
    """An OGB node-property dataset, read by ``ogb``'s ``PygNodePropPredDataset`` (the
    optional extra ``pip install eamp[ogb]``) with its official split; see
    :func:`eamp.data.load_ogb`."""
    folder = name.replace("-", "_")
    files = ("edge.csv.gz", "node-feat.csv.gz", "node-label.csv.gz", "num-node-list.csv.gz",
             "num-edge-list.csv.gz", *extra_files,
             *(f"../split/{split}/{part}.csv.gz" for part in ("train", "valid", "test")),
             "../RELEASE_v1.txt")
    return DatasetInfo(
        name, f"{summary} (OGB, official {split} split; needs pip install eamp[ogb])",
        lambda root, _: root / folder / "raw", lambda _: list(files),
        lambda root, _: _pyg("load_ogb", "eamp.data")(root, name),
        links=(f"{folder}/split", f"{folder}/RELEASE_v1.txt"))


DATASETS: dict[str, DatasetInfo] = {
    "cora": _planetoid("Cora", "cora"),
    "citeseer": _planetoid("CiteSeer", "citeseer"),
    **{n: _webkb(n) for n in ("texas", "cornell", "wisconsin")},
    "actor": DatasetInfo(
        "actor", "Actor co-occurrence (film, 10 geom-gcn splits)",
        lambda root, split: root / "Actor" / "raw",
        lambda split: ["out1_node_feature_label.txt", "out1_graph_edges.txt"]
        + [f"film_split_0.6_0.2_{i}.npz" for i in range(10)],
        lambda root, split: _pyg("Actor")(str(root / "Actor"))[0],
    ),
    **{n: _heterophilous(n, "binary, imbalanced, 10 splits; ROC AUC",
                         _pyg("HeterophilousGraphDataset"), metric="roc_auc")
       for n in ("minesweeper", "tolokers")},
    **{n: _heterophilous(n, "duplicates removed, 10 splits",
                         _pyg("FilteredHeterophilous", "eamp.data"))
       for n in ("chameleon_filtered", "squirrel_filtered")},
    "ogbn-arxiv": _ogb("ogbn-arxiv", "arXiv CS citations, 169k nodes, 40 subject areas",
                       "time", ("node_year.csv.gz",)),
    "ogbn-products": _ogb("ogbn-products", "Amazon co-purchases, 2.4M nodes, 47 categories: "
                          "use --batching cluster", "sales_ranking"),
}


def dataset_names() -> list[str]:
    return [*DATASETS, *SYNTHETIC]


def check_dataset(name: str) -> str:
    """``name`` in lower case if it names a dataset, else a ``ValueError`` listing them."""
    key = name.lower() if isinstance(name, str) else name
    if key not in dataset_names():
        raise ValueError(f"dataset: unknown name {name!r}; choose one of "
                         f"{', '.join(dataset_names())}")
    return key


def dataset_metric(name: str) -> str:
    """The metric results on ``name`` are scored by (:data:`METRICS`)."""
    info = DATASETS.get(check_dataset(name))
    return info.metric if info is not None else "accuracy"


def cache_dir() -> Path:
    """eamp's folder in the user cache: ``$XDG_CACHE_HOME/eamp`` (``~/.cache/eamp``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "eamp"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$EAMP_DATA_DIR``, else ``$XDG_CACHE_HOME/eamp/data``; a path that
    exists and is not a folder is a ``ValueError``."""
    if root is not None:
        path = Path(root).expanduser()
    elif os.environ.get("EAMP_DATA_DIR"):
        path = Path(os.environ["EAMP_DATA_DIR"]).expanduser()
    else:
        path = cache_dir() / "data"
    if path.exists() and not path.is_dir():
        raise ValueError(f"data_dir: {path} is not a folder")
    return path
