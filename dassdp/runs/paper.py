"""Train the same spiking network with and without DA-SSDP (the paper's comparison, Tian et al.,
arXiv 2512.07194) on a small offline data set; ``dassdp paper`` runs it.

Variants, each trained from the same initial weights, data order and seed:

- ``baseline``: surrogate-gradient training only;
- ``dassdp``: plus DA-SSDP with the continuous gate on the deep layer;
- ``gate_off``: plus DA-SSDP with the gate off (the two-factor "harmless regulariser" ablation).

`train` yields one record per epoch of one variant; `summarise` gives the final-epoch test
accuracy per variant and, for each variant against the baseline, the mean paired difference, its
95% t-interval and a Wilcoxon signed-rank p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from dassdp.analysis.stats import t_interval
from dassdp.models.snn import SpikingConvNet, SpikingMLP
from dassdp.rules.plugin import DASSDPPlugin
from dassdp.rules.reference import DASSDPParams
from dassdp.runs.datasets import DATASETS, Dataset

__all__ = ["Setup", "SETUPS", "VARIANTS", "build_model", "train", "summarise"]

VARIANTS = {"baseline": None, "dassdp": "continuous", "gate_off": "off"}


@dataclass(frozen=True)
class Setup:
    """Network and training settings for one data set (direct input encoding)."""

    n_steps: int
    epochs: int
    warmup_epochs: int
    batch_size: int
    lr: float
    layer: str


SETUPS = {
    # SpikingMLP 64-128-128-10; DA-SSDP on fc.1 (lif.0 -> lif.1)
    "digits": Setup(n_steps=8, epochs=30, warmup_epochs=5, batch_size=64, lr=2e-3, layer="lif.1"),
    # SpikingConvNet conv(32)-conv(32)-fc(128)-10 over length 40; DA-SSDP on fc (pooled conv spikes -> lif_fc)
    "mnist1d": Setup(n_steps=4, epochs=30, warmup_epochs=5, batch_size=64, lr=2e-3, layer="lif_fc"),
}


def build_model(dataset: Dataset) -> nn.Module:
    if dataset.name == "digits":
        return SpikingMLP([dataset.input_shape[0], 128, 128], dataset.n_classes)
    if dataset.name == "mnist1d":
        return SpikingConvNet((1, dataset.input_shape[0]), [32, 32], 128, dataset.n_classes)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset.name!r}")


def _as_network_input(x: torch.Tensor, dataset: Dataset, n_steps: int) -> torch.Tensor:
    """Direct encoding ``[T, B, ...]``; MNIST-1D gets a channel axis for the 1-d convolutions."""
    x = x.unsqueeze(1) if dataset.name == "mnist1d" else x
    return x.expand(n_steps, *x.shape)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dataset: Dataset, n_steps: int) -> float:
    model.eval()
    with torch.no_grad():
        correct = sum(
            int((model(_as_network_input(xb, dataset, n_steps)).argmax(1) == yb).sum())
            for xb, yb in zip(x.split(512), y.split(512))
        )
    model.train()
    return correct / len(y)


def train(dataset: Dataset, setup: Setup, seed: int, gate: str | None, epochs: int | None = None):
    """Train one variant; yields one dict per epoch (epoch, train_acc, test_acc, loss, gate_k, S)."""
    torch.manual_seed(seed)
    model = build_model(dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=setup.lr)
    plasticity = None
    if gate is not None:
        plasticity = DASSDPPlugin(model, [setup.layer], DASSDPParams(gate=gate), warmup_epochs=setup.warmup_epochs)
    order = torch.Generator().manual_seed(seed)
    n_train = len(dataset.y_train)
    for epoch in range(epochs or setup.epochs):
        losses, synchrony = [], []
        for batch in torch.randperm(n_train, generator=order).split(setup.batch_size):
            loss = nn.functional.cross_entropy(
                model(_as_network_input(dataset.x_train[batch], dataset, setup.n_steps)), dataset.y_train[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if plasticity is not None:
                plasticity.step(loss)
                synchrony.append(plasticity.last_gate[setup.layer].mean_synchrony)
        if plasticity is not None:
            plasticity.end_epoch()
        gate_fit = plasticity.gates[setup.layer] if plasticity is not None else None
        yield {
            "epoch": epoch,
            "train_acc": _accuracy(model, dataset.x_train, dataset.y_train, dataset, setup.n_steps),
            "test_acc": _accuracy(model, dataset.x_test, dataset.y_test, dataset, setup.n_steps),
            "loss": float(np.mean(losses)),
            "gate_k": np.nan if gate_fit is None else gate_fit.k,
            "S": float(np.mean(synchrony)) if synchrony else np.nan,
        }


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Final-epoch test accuracy per (dataset, variant), paired against the baseline by seed."""
    from scipy.stats import wilcoxon

    final = results[results.epoch == results.epoch.max()]
    rows = []
    for (dataset, variant), group in final.groupby(["dataset", "variant"], sort=False):
        row = {"dataset": dataset, "variant": variant, "n_seeds": len(group), "test_acc_mean": group.test_acc.mean()}
        if variant != "baseline":
            base = final[(final.dataset == dataset) & (final.variant == "baseline")].set_index("seed").test_acc
            diff = (group.set_index("seed").test_acc - base).dropna().to_numpy()
            row["diff_mean"], row["diff_ci_low"], row["diff_ci_high"] = t_interval(diff)
            row["wilcoxon_p"] = float(wilcoxon(diff).pvalue) if len(diff) > 1 and np.any(diff != 0) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
