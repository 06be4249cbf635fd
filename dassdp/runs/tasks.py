"""The PyTorch phase of one run: a task-switch sequence trained with or without DA-SSDP.

`execute` takes a `RunSpec` and returns three tidy tables:

- ``training``: one row per mini-batch (block, task, epoch, batch, trial, loss, batch accuracy,
  synchrony S of the plastic layer's input/output spikes, the DA-SSDP gate at the batch's mean S,
  warm-up flag);
- ``evaluations``: one row per (evaluation, task): before training (``block = -1``) and after
  every block, with plasticity off (``model.eval()``, ``torch.no_grad()``): accuracy and S;
- ``weights``: statistics of every weight matrix after every block (mean, std, abs_mean, norm,
  change from the initial weights and from the previous block).

Every random draw is seeded from the run's seed: initial weights (``torch.manual_seed``), the
mini-batch order and rate-encoding spikes (their own ``torch.Generator`` s); evaluation uses a
fixed generator per (seed, task), so an untrained model scores exactly the same at every
evaluation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from dassdp.models.encoders import encode
from dassdp.models.snn import SpikingMLP
from dassdp.rules.torch import activity_from_raster, sample_synchrony
from dassdp.runs.datasets import Dataset, hold_out_validation, load_dataset
from dassdp.runs.study import RunSpec, Study

__all__ = [
    "TaskData",
    "build_model",
    "execute",
    "make_tasks",
    "linear_weights",
    "task_mask",
    "run_tables",
    "train_epoch",
    "weight_stats",
]

#: logit for classes outside the current task when ``scenario = "task"``
_MASKED = -1e9


@dataclass(frozen=True)
class TaskData:
    """One task: its training and test samples (flattened features) and the classes it uses."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[int, ...]


def _dataset(name: str, seed: int, path: str | None, validation_fraction: float = 0.0) -> Dataset:
    """The data set, or with ``validation_fraction`` its validation split in place of the test
    split (`dassdp.runs.datasets.hold_out_validation`): the test data is then never read."""
    data = _stored_dataset(name, seed, path)
    return hold_out_validation(data, validation_fraction, seed) if validation_fraction > 0 else data


@functools.lru_cache(maxsize=4)
def _stored_dataset(name: str, seed: int, path: str | None) -> Dataset:
    if name == "npz":
        with np.load(path) as data:
            arrays = {k: torch.as_tensor(np.asarray(data[k])) for k in ("x_train", "y_train", "x_test", "y_test")}
        n_classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
        return Dataset(
            "npz",
            arrays["x_train"].float(),
            arrays["y_train"].long(),
            arrays["x_test"].float(),
            arrays["y_test"].long(),
            n_classes,
        )
    return load_dataset(name, seed)


def make_tasks(study: Study) -> tuple[dict[str, TaskData], int]:
    """Tasks by name and the number of classes (features flattened to ``[N, n_in]``)."""
    spec = study.dataset
    data = _dataset(spec.name, spec.seed, spec.path, spec.validation_fraction)
    x_train, x_test = data.x_train.flatten(1), data.x_test.flatten(1)
    tasks = {}
    if study.tasks.kind == "classes":
        for name, classes in study.tasks.classes.items():
            labels = torch.tensor(classes)
            train, test = torch.isin(data.y_train, labels), torch.isin(data.y_test, labels)
            tasks[name] = TaskData(
                name, x_train[train], data.y_train[train], x_test[test], data.y_test[test], tuple(classes)
            )
    else:
        generator = torch.Generator().manual_seed(study.tasks.seed)
        n_in = x_train.shape[1]
        for k, name in enumerate(study.tasks.names):
            perm = torch.randperm(n_in, generator=generator)
            if k == 0 and study.tasks.identity_first:
                perm = torch.arange(n_in)
            tasks[name] = TaskData(
                name, x_train[:, perm], data.y_train, x_test[:, perm], data.y_test, tuple(range(data.n_classes))
            )
    return tasks, data.n_classes


def build_model(study: Study, n_in: int, n_classes: int) -> SpikingMLP:
    net = study.network
    return SpikingMLP([n_in, *net.hidden], n_classes, beta=net.beta, threshold=net.threshold)


class _SynchronyProbe:
    """Forward hooks recording, per window, ``S = mean_b (mean_j fired_bj)(mean_i fired_bi)`` of the
    plastic layer (post) and the spiking layer feeding it (pre; the encoded input for ``lif.0``).

    The fired flags are `dassdp.rules.torch.activity_from_raster` of the window (a unit fired if
    it was nonzero at any step; a real-valued direct-encoded input counts as nonzero), and S is the
    batch mean of `dassdp.rules.torch.sample_synchrony`, the same per-sample S the DA-SSDP plug-in
    gates on."""

    def __init__(self, model: SpikingMLP, layer: str) -> None:
        index = int(layer.split(".")[1])
        self.pre_fired: torch.Tensor | None = None
        self.values: list[float] = []
        post = model.lif[index]
        pre_module = model.lif[index - 1] if index > 0 else model.fc[0]
        pre_hook = (lambda m, i, o: self._pre(o)) if index > 0 else (lambda m, i, o: self._pre(i[0]))
        self.handles = [
            pre_module.register_forward_hook(pre_hook),
            post.register_forward_hook(lambda m, i, o: self._post(o)),
        ]

    @staticmethod
    def _fired(spikes: torch.Tensor) -> torch.Tensor:
        """Fired flags ``[B, N]`` of a window ``[T, B, N]``."""
        fired, _ = activity_from_raster(spikes.detach() != 0)
        return fired

    def _pre(self, spikes: torch.Tensor) -> None:
        self.pre_fired = self._fired(spikes)

    def _post(self, spikes: torch.Tensor) -> None:
        self.values.append(float(sample_synchrony(self.pre_fired, self._fired(spikes)).mean()))

    def pop(self) -> float:
        values, self.values = self.values, []
        return float(np.mean(values)) if values else float("nan")


def _logits(model: nn.Module, x: torch.Tensor, study: Study, mask: torch.Tensor | None, generator) -> torch.Tensor:
    net = study.network
    inputs = encode(x, net.encoding, net.n_steps, generator if net.encoding == "rate" else None)
    logits = model(inputs)
    return logits if mask is None else logits.masked_fill(~mask, _MASKED)


def task_mask(study: Study, task: TaskData, n_classes: int, device) -> torch.Tensor | None:
    if study.tasks.scenario != "task":
        return None
    mask = torch.zeros(n_classes, dtype=torch.bool, device=device)
    mask[list(task.classes)] = True
    return mask


def train_epoch(model, optimizer, task: TaskData, study: Study, mask, order, spikes, device):
    """One epoch of surrogate-gradient training on ``task`` (mini-batches in the order drawn from
    the generator ``order``; cross-entropy of the logits); yields ``(batch index, loss, batch
    accuracy)`` after each optimizer step."""
    permutation = torch.randperm(len(task.y_train), generator=order)
    for batch_index, batch in enumerate(permutation.split(study.training.batch_size)):
        xb, yb = task.x_train[batch].to(device), task.y_train[batch].to(device)
        logits = _logits(model, xb, study, mask, spikes)
        loss = nn.functional.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        yield batch_index, loss, float((logits.detach().argmax(1) == yb).double().mean())


def _evaluate(model, study, tasks, n_classes, seed, probe, device) -> list[dict]:
    model.eval()
    rows = []
    with torch.no_grad():
        for k, task in enumerate(tasks.values()):
            generator = torch.Generator(device=device).manual_seed(seed * 1_000_003 + k)
            mask = task_mask(study, task, n_classes, device)
            correct = 0
            for xb, yb in zip(
                task.x_test.split(study.training.eval_batch_size), task.y_test.split(study.training.eval_batch_size)
            ):
                correct += int((_logits(model, xb.to(device), study, mask, generator).argmax(1) == yb.to(device)).sum())
            rows.append({"eval_task": task.name, "accuracy": correct / len(task.y_test), "synchrony": probe.pop()})
    model.train()
    return rows


def linear_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weight of every ``nn.Linear`` of ``model`` by module name (float64, CPU)."""
    return {n: m.weight.detach().double().cpu() for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def weight_stats(weights: dict, initial: dict, previous: dict) -> list[dict]:
    """Tidy rows (layer, stat, value) of each weight matrix: mean, std, abs_mean, min, max, norm
    and the Frobenius norm of the change from ``initial`` and from ``previous`` (updated in
    place)."""
    rows = []
    for name, w in weights.items():
        w = torch.as_tensor(w, dtype=torch.float64)
        stats = {
            "mean": w.mean(),
            "std": w.std(unbiased=False),
            "abs_mean": w.abs().mean(),
            "min": w.min(),
            "max": w.max(),
            "norm": w.norm(),
            "change_from_initial": (w - initial[name]).norm(),
            "change_from_previous": (w - previous[name]).norm(),
        }
        rows += [{"layer": name, "stat": stat, "value": float(value)} for stat, value in stats.items()]
        previous[name] = w.clone()
    return rows


def execute(spec: RunSpec) -> dict[str, pd.DataFrame]:
    """Train the run's task sequence; return its ``training``, ``evaluations`` and ``weights``
    tables (each with columns ``run``, ``variant``, ``seed`` first)."""
    from dassdp.rules.plugin import DASSDPPlugin

    torch.set_num_threads(1)
    study, variant, seed = spec.resolved(), spec.variant, spec.seed
    device = torch.device(study.device)
    tasks, n_classes = make_tasks(study)
    n_in = next(iter(tasks.values())).x_train.shape[1]
    torch.manual_seed(seed)
    model = build_model(study, n_in, n_classes).to(device)
    probe = _SynchronyProbe(model, study.plastic_layer)
    optimizer = torch.optim.Adam(model.parameters(), lr=study.training.lr)
    plasticity = None
    if variant in ("ssdp", "dassdp"):
        p = study.plasticity
        plasticity = DASSDPPlugin(model, [study.plastic_layer], p.params(variant), warmup_epochs=p.warmup_epochs)
    order = torch.Generator().manual_seed(seed)
    spikes = torch.Generator(device=device).manual_seed(seed + 7_919)
    initial = {n: w.clone() for n, w in linear_weights(model).items()}
    previous = dict(initial)

    training, evaluations, weights = [], [], []

    def evaluate(block: int, trained: str) -> None:
        for row in _evaluate(model, study, tasks, n_classes, seed, probe, device):
            evaluations.append({"block": block, "trained_task": trained, **row})

    evaluate(-1, "")
    epoch = trial = 0
    for block_index, block in enumerate(study.blocks):
        task = tasks[block.task]
        mask = task_mask(study, task, n_classes, device)
        for _ in range(block.epochs):
            if variant == "frozen":
                break
            for batch_index, loss, accuracy in train_epoch(model, optimizer, task, study, mask, order, spikes, device):
                synchrony, gate, warmup = probe.pop(), float("nan"), False
                if plasticity is not None:
                    warmup = plasticity.in_warmup
                    plasticity.step(loss)
                    gate = plasticity.last_gate[study.plastic_layer].at_mean_synchrony  # NaN in warm-up
                training.append(
                    {
                        "block": block_index,
                        "task": block.task,
                        "epoch": epoch,
                        "batch": batch_index,
                        "trial": trial,
                        "loss": float(loss.detach()),
                        "accuracy": accuracy,
                        "synchrony": synchrony,
                        "gate": gate,
                        "warmup": warmup,
                    }
                )
                trial += 1
            if plasticity is not None:
                plasticity.end_epoch()
            epoch += 1
        evaluate(block_index, block.task)
        for row in weight_stats(linear_weights(model), initial, previous):
            weights.append({"block": block_index, "trained_task": block.task, **row})

    gate_fit = plasticity.gates[study.plastic_layer] if plasticity is not None else None
    if plasticity is not None:
        plasticity.remove()
    return run_tables(spec, training, evaluations, weights, study.plastic_layer, gate_fit)


def run_tables(
    spec: RunSpec,
    training,
    evaluations,
    weights,
    layer: str,
    gate,
    training_columns: dict[str, str] | None = None,
    rasters: list[dict] | None = None,
) -> dict[str, pd.DataFrame]:
    """The run's tables with fixed schemas (``gate``: one row of the fitted ``k, mu, s``, or none
    without a gate; ``rasters``: the spikes of a few windows, the Brian2 phase only)."""
    ident = {"run": spec.run_id, "variant": spec.variant, "seed": spec.seed}
    return {
        "training": _frame(training, ident, training_columns or TRAINING_COLUMNS),
        "evaluations": _frame(evaluations, ident, EVAL_COLUMNS),
        "weights": _frame(weights, ident, WEIGHT_COLUMNS),
        "rasters": _frame(rasters or [], ident, RASTER_COLUMNS),
        "gate": pd.DataFrame(
            [{**ident, "layer": layer, "k": gate.k, "mu": gate.mu, "s": gate.s}] if gate is not None else [],
            columns=[*ident, "layer", "k", "mu", "s"],
        ),
    }


#: one row per spike: the window (its index in the run, its block and task, its label and where it
#: lies in the block, ``first`` or ``last`` training window), the population, neuron and step
RASTER_COLUMNS = {
    "window": "int64",
    "block": "int64",
    "task": "object",
    "label": "int64",
    "position": "object",
    "population": "object",
    "neuron": "int64",
    "step": "int64",
}
TRAINING_COLUMNS = {
    "block": "int64",
    "task": "object",
    "epoch": "int64",
    "batch": "int64",
    "trial": "int64",
    "loss": "float64",
    "accuracy": "float64",
    "synchrony": "float64",
    "gate": "float64",
    "warmup": "bool",
}
#: the Brian2 phase adds the window's label, the prediction and the dopamine level after the window
BRIAN2_TRAINING_COLUMNS = {
    **TRAINING_COLUMNS,
    "label": "int64",
    "prediction": "int64",
    "dopamine": "float64",
    "free_prediction": "int64",
    "free_accuracy": "float64",
}
EVAL_COLUMNS = {
    "block": "int64",
    "trained_task": "object",
    "eval_task": "object",
    "accuracy": "float64",
    "synchrony": "float64",
}
WEIGHT_COLUMNS = {"block": "int64", "trained_task": "object", "layer": "object", "stat": "object", "value": "float64"}


def _frame(rows: list[dict], ident: dict, columns: dict[str, str]) -> pd.DataFrame:
    """A table with a fixed schema (also when empty, e.g. the training table of ``frozen``)."""
    frame = pd.DataFrame(rows, columns=list(columns)).astype(columns)
    for k, (name, value) in enumerate(ident.items()):
        frame.insert(k, name, pd.Series([value] * len(frame), dtype="int64" if name == "seed" else "object"))
    return frame
