r"""Mini-batch training on graph partitions (Cluster-GCN, Chiang et al., KDD 2019), for graphs
whose full-batch activations do not fit in memory.

The nodes are cut into ``num_parts`` parts once (METIS through :mod:`pymetis`, a PyPI wheel,
which keeps most edges inside a part; or a uniform random cut, as PyG's
:class:`~torch_geometric.loader.RandomNodeLoader`). Each training step takes the subgraph
induced by ``parts_per_batch`` parts (a new random grouping every epoch, Cluster-GCN's
"stochastic multiple partitions"): the edges between two chosen parts are kept, the edges to
the other parts are dropped. PyG's own :class:`~torch_geometric.loader.ClusterData` needs
METIS from ``torch-sparse`` or ``pyg-lib``, compiled extensions this project does not
depend on; the subgraph itself is PyG's :func:`~torch_geometric.utils.subgraph`.

What this approximates, for the entropy term: on a batch, node :math:`i` sees only its
in-batch neighbours :math:`\mathcal{N}_i^B = \mathcal{N}_i \cap B`. Its energy
:math:`E_i^B = \tfrac12 C_i^B \sum_{j\in\mathcal{N}_i^B}\|x_j - x_i\|^2` uses
:math:`C_i^B = 1/\sqrt{|\mathcal{N}_i^B| d}`, a node whose neighbours all lie outside is
isolated (energy 0), and the gradient sums over in-batch edges only, so
:math:`\nabla_{x_i} S^B = \nabla_{x_i} S` exactly when every neighbour of :math:`i` and of
its neighbours lies in the batch. The error therefore grows with the share of cut edges:
``benchmarks/cluster_entropy.py`` measures it against the full graph. GCN's normalisation
likewise uses in-batch degrees (as in Cluster-GCN).

Evaluation (validation, test, the layer measures) runs batch by batch too, on a fixed
grouping of the same parts, so that its memory is bounded like training's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from eamp.data.catalog import BATCHING, PARTITIONS

__all__ = ["BATCHING", "PARTITIONS", "partition", "Batches", "SubgraphBatch",
           "batch_gradient_error"]



def partition(edge_index: Tensor, num_nodes: int, num_parts: int, method: str = "metis",
              seed: int = 0) -> Tensor:
    """The part (``0 .. num_parts - 1``) of every node, as a ``[num_nodes]`` long tensor.

    Args:
        edge_index (LongTensor): ``[2, E]`` edges (METIS sees them made undirected, without
            self-loops).
        num_nodes (int): :math:`n`.
        num_parts (int): parts (>= 1, at most ``num_nodes``).
        method (str): ``"metis"`` (:func:`pymetis.part_graph`, few cut edges) or
            ``"random"`` (a uniformly random, balanced cut). (default: ``"metis"``)
        seed (int): METIS's seed, or the random cut's. (default: ``0``)
    """
    if method not in PARTITIONS:
        raise ValueError(f"partition: expected one of {', '.join(PARTITIONS)}, got {method!r}")
    if not 1 <= num_parts <= num_nodes:
        raise ValueError(f"num_parts: expected 1 <= num_parts <= {num_nodes} (the nodes), "
                         f"got {num_parts}")
    if num_parts == 1:
        return torch.zeros(num_nodes, dtype=torch.long)
    if method == "random":
        generator = torch.Generator().manual_seed(seed)
        parts = torch.empty(num_nodes, dtype=torch.long)
        parts[torch.randperm(num_nodes, generator=generator)] = (
            torch.arange(num_nodes) * num_parts // num_nodes)
        return parts
    import numpy as np
    import pymetis
    from torch_geometric.utils import remove_self_loops, to_undirected

    # METIS takes a symmetric graph without self-loops (a graph "as loaded" may be neither);
    # to_undirected also coalesces: rows sorted by source, as the CSR below needs
    edge_index = to_undirected(remove_self_loops(edge_index.cpu())[0], num_nodes=num_nodes)
    adjacent = edge_index[1].numpy().astype(np.int64)
    starts = torch.zeros(num_nodes + 1, dtype=torch.long)
    starts[1:] = torch.bincount(edge_index[0], minlength=num_nodes).cumsum(0)
    options = pymetis.Options(seed=seed)
    result = pymetis.part_graph(
        num_parts, pymetis.CSRAdjacency(starts.numpy(), adjacent), options=options)
    return torch.as_tensor(np.asarray(result.vertex_part), dtype=torch.long)


@dataclass
class SubgraphBatch:
    """One batch: ``nodes`` (global ids, ascending) and the induced ``edge_index`` over
    them, relabelled to ``0 .. len(nodes) - 1``."""

    nodes: Tensor
    edge_index: Tensor


class Batches:
    """The batches of one partition of a graph.

    Args:
        edge_index (LongTensor): ``[2, E]`` edges of the whole graph.
        parts (LongTensor): ``[n]`` part of every node (:func:`partition`).
        parts_per_batch (int): parts per batch (>= 1).
    """

    def __init__(self, edge_index: Tensor, parts: Tensor, parts_per_batch: int) -> None:
        self.edge_index = edge_index
        self.parts = parts.to(edge_index.device)
        self.num_parts = int(parts.max()) + 1
        if not 1 <= parts_per_batch <= self.num_parts:
            raise ValueError(f"parts_per_batch: expected 1 <= parts_per_batch <= "
                             f"{self.num_parts} (the parts), got {parts_per_batch}")
        self.parts_per_batch = parts_per_batch

    def __len__(self) -> int:
        return -(-self.num_parts // self.parts_per_batch)

    def cut_fraction(self) -> float:
        """The share of edges whose two ends lie in different parts."""
        src, dst = self.edge_index
        if src.numel() == 0:
            return 0.0
        return float((self.parts[src] != self.parts[dst]).float().mean())

    def batch(self, chosen: Tensor) -> SubgraphBatch:
        """The subgraph induced by the parts in ``chosen``."""
        from torch_geometric.utils import subgraph

        member = torch.zeros(self.num_parts, dtype=torch.bool, device=self.parts.device)
        member[chosen.to(self.parts.device)] = True
        mask = member[self.parts]
        edge_index, _ = subgraph(mask, self.edge_index, relabel_nodes=True,
                                 num_nodes=self.parts.numel())
        return SubgraphBatch(mask.nonzero().view(-1), edge_index)

    def __call__(self, generator: torch.Generator | None = None) -> Iterator[SubgraphBatch]:
        """The batches of one pass over all parts: parts grouped at random with
        ``generator`` (training; the global random state is not touched), or in order
        without it (evaluation)."""
        order = (torch.arange(self.num_parts) if generator is None
                 else torch.randperm(self.num_parts, generator=generator))
        for start in range(0, self.num_parts, self.parts_per_batch):
            yield self.batch(order[start:start + self.parts_per_batch])


def batch_gradient_error(x: Tensor, batches: Batches, temperature: float,
                         generator: torch.Generator | None = None) -> float:
    r"""How far the entropy gradient of cluster batching is from the full graph's:
    :math:`\|G^B - G\|_F / \|G\|_F`, where :math:`G` is :func:`~eamp.entropy.entropy_gradient`
    of ``x`` on the whole graph and :math:`G^B` stacks, for one pass over the batches, each
    batch's gradient on its induced subgraph (every node lies in exactly one batch). 0 when
    no edge is cut; 0 as well for a zero gradient that the batches reproduce."""
    from eamp.entropy import entropy_gradient

    full = entropy_gradient(x, batches.edge_index, temperature)
    stacked = torch.zeros_like(full)
    for batch in batches(generator):
        stacked[batch.nodes] = entropy_gradient(x[batch.nodes], batch.edge_index, temperature)
    scale = float(full.norm())
    error = float((stacked - full).norm())
    return error / scale if scale > 0 else error
