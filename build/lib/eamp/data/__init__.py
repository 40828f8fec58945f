"""Data: what eamp knows about each dataset without loading it (:mod:`eamp.data.catalog`,
no PyTorch), loading it into one PyG graph (:mod:`eamp.data.loading`) and cluster batching
of large graphs (:mod:`eamp.data.batching`). Names are imported on first use."""

from typing import TYPE_CHECKING

from eamp._lazy import lazy_attributes

_LOADING = ("FilteredHeterophilous", "csbm_graph", "grid_graph", "load_dataset", "load_ogb",
            "num_splits", "split_masks", "lcc_random_split", "clean_graph", "dataset_lock")
_CATALOG = ("BATCHING", "PARTITIONS", "DATASETS", "GRAPHS", "LCC_SPLITS", "METRICS",
            "OPTIMIZERS", "SPLITS", "SYNTHETIC",
            "DatasetInfo", "DatasetUnavailable", "check_dataset", "data_root",
            "dataset_metric", "dataset_names", "cache_dir")
_BATCHING = ("Batches", "SubgraphBatch", "batch_gradient_error",
             "partition")
_NAMES = {**dict.fromkeys(_LOADING, "eamp.data.loading"),
          **dict.fromkeys(_CATALOG, "eamp.data.catalog"),
          **dict.fromkeys(_BATCHING, "eamp.data.batching")}
__all__ = [
    "BATCHING",
    "Batches",
    "DATASETS",
    "DatasetInfo",
    "DatasetUnavailable",
    "FilteredHeterophilous",
    "GRAPHS",
    "LCC_SPLITS",
    "METRICS",
    "OPTIMIZERS",
    "PARTITIONS",
    "SPLITS",
    "SYNTHETIC",
    "SubgraphBatch",
    "batch_gradient_error",
    "cache_dir",
    "check_dataset",
    "clean_graph",
    "csbm_graph",
    "data_root",
    "dataset_lock",
    "dataset_metric",
    "dataset_names",
    "grid_graph",
    "lcc_random_split",
    "load_dataset",
    "load_ogb",
    "num_splits",
    "partition",
    "split_masks",
]  # the keys of _NAMES
__getattr__ = lazy_attributes(__name__, _NAMES)

if TYPE_CHECKING:
    from eamp.data.batching import (
        Batches,
        SubgraphBatch,
        batch_gradient_error,
        partition,
    )
    from eamp.data.catalog import (
        BATCHING,
        DATASETS,
        GRAPHS,
        LCC_SPLITS,
        METRICS,
        OPTIMIZERS,
        PARTITIONS,
        SPLITS,
        SYNTHETIC,
        DatasetInfo,
        DatasetUnavailable,
        cache_dir,
        check_dataset,
        data_root,
        dataset_metric,
        dataset_names,
    )
    from eamp.data.loading import (
        FilteredHeterophilous,
        clean_graph,
        csbm_graph,
        dataset_lock,
        grid_graph,
        lcc_random_split,
        load_dataset,
        load_ogb,
        num_splits,
        split_masks,
    )
