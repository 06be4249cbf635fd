"""The Brian2 phase of a run (``phase = "brian2"``): pretrain in PyTorch, convert exactly, then
run the task sequence in Brian2 with a local plasticity rule on the readout projection.

1. **Pretraining.** The `SpikingMLP` of the study is surrogate-trained in PyTorch on
   ``brian2.pretrain`` (default: the first block's task) for ``brian2.pretrain_epochs`` epochs,
   as in the PyTorch phase; every variant of a seed starts from the same network.
2. **Label neurons.** The non-spiking readout (logit ``= mean_t (W s[t] + b)``) becomes
   integrate-and-fire *label neurons* (`dassdp.models.snn.LIF` with ``beta = 1``, subtractive
   reset, threshold ``theta``): ``v[t] = v[t-1] + W s[t] + b``, a spike when ``v > theta``, then
   ``v -= theta``. Their spike count ``n`` and final potential satisfy
   ``n theta + v[T-1] = sum_t (W s[t] + b) = T logit``, so the prediction
   ``argmax(n theta + v[T-1])`` equals PyTorch's while the spikes drive the rules. ``theta`` is the
   mean over the pretraining samples of ``max(T logit_label, 0)`` divided by ``readout_spikes``.
3. **Schedule.** One sample per window of ``T`` steps of ``dt_ms``. An evaluation segment
   (``eval_samples`` test samples of every task) comes before training and after every block; a
   block presents ``train_samples`` training samples of its task per epoch (a fresh seeded draw
   per epoch). One Brian2 run covers the whole sequence, so it runs unchanged on every target,
   ``cuda_standalone`` included. Plasticity follows a `dassdp.rules.reference.Schedule`: on in
   training windows, off in evaluation windows.
4. **Task signal.** ``teacher``: a current of ``teacher * theta`` per step into the correct label
   neuron in training windows. ``reward``: after each training window a reward
   ``r = n_label / sum_j n_j`` (the label neuron's share of the label spikes) and its prediction
   error ``r - rbar`` (``rbar += rpe_rate (r - rbar)``) are released as phasic dopamine (DA-STDP).
   With the teacher only, DA-STDP gets one unit of dopamine after every training window.
   The dopamine of the last training window before an evaluation arrives when learning is off.
5. **Rules** on the projection last hidden layer -> label neurons: ``none``, ``stdp``, ``dastdp``,
   ``ssdp`` and ``dassdp`` (gate fitted on ``brian2.dassdp.warmup`` training windows, with the
   spike-count cross-entropy of the label neurons as the loss, computed in the network).

The tables have the PyTorch phase's schema (`dassdp.runs.tasks`): ``training`` one row per
training window (loss: the spike-count cross-entropy; accuracy: 1 if the prediction, teacher
included, is the label; synchrony ``S = mean_(i,j) fired_i fired_j`` of the plastic projection;
gate: the dopamine-borne gate of DA-SSDP; plus ``label``, ``prediction`` and ``dopamine``),
``evaluations`` per evaluation and task, ``weights`` per block, ``gate`` the fitted gate.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import itertools
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dassdp.runs.study import RunSpec, Study, canonical_json
from dassdp.runs.tasks import (
    TaskData,
    build_model,
    linear_weights,
    BRIAN2_TRAINING_COLUMNS,
    make_tasks,
    run_tables,
    task_mask,
    train_epoch,
    weight_stats,
)

__all__ = ["Layout", "build_directory", "execute_brian2", "label_threshold", "layout", "pretrain", "quiet_brian2", "reward_dopamine", "spiking_readout"]

PLASTIC_LAYER = "readout"
LABELS = "label"


def pretrain(study: Study, tasks: dict[str, TaskData], n_classes: int, seed: int):
    """The study's network after surrogate-gradient training on the pretraining tasks."""
    torch.manual_seed(seed)
    n_in = next(iter(tasks.values())).x_train.shape[1]
    model = build_model(study, n_in, n_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=study.training.lr)
    order = torch.Generator().manual_seed(seed)
    spikes = torch.Generator().manual_seed(seed + 7_919)
    for name in pretrain_tasks(study):
        task = tasks[name]
        mask = task_mask(study, task, n_classes, "cpu")
        for _ in range(study.brian2.pretrain_epochs):
            for _ in train_epoch(model, optimizer, task, study, mask, order, spikes, "cpu"):
                pass
    return model.eval()


def pretrain_tasks(study: Study) -> list[str]:
    return list(study.brian2.pretrain or [study.blocks[0].task])


def label_threshold(model, study: Study, tasks: dict[str, TaskData]) -> float:
    """``theta``: mean over the pretraining samples of ``max(T logit_label, 0)`` per
    ``readout_spikes`` (1 if that mean is 0)."""
    from dassdp.models.encoders import encode

    net = study.network
    x = torch.cat([tasks[t].x_train for t in pretrain_tasks(study)])
    y = torch.cat([tasks[t].y_train for t in pretrain_tasks(study)])
    with torch.no_grad():
        logits = model(encode(x, net.encoding, net.n_steps, torch.Generator().manual_seed(0)))
    drive = (net.n_steps * logits[torch.arange(len(y)), y]).clamp(min=0).mean().item()
    return drive / study.brian2.readout_spikes if drive > 0 else 1.0


def spiking_readout(model, theta: float) -> nn.Sequential:
    """``model`` (a `SpikingMLP`) as an ``nn.Sequential`` whose readout feeds integrate-and-fire
    label neurons (``beta = 1``, subtractive reset, threshold ``theta``)."""
    from dassdp.models.snn import LIF

    layers = OrderedDict()
    for k, (fc, lif) in enumerate(zip(model.fc, model.lif)):
        layers[f"fc{k}"], layers[f"lif{k}"] = fc, lif
    layers[PLASTIC_LAYER] = model.readout
    layers[LABELS] = LIF(beta=1.0, threshold=theta, reset="subtract")
    return nn.Sequential(layers)


@dataclass
class Layout:
    """The windows of one run, in presentation order: sample features ``x``, ``labels``, the
    ``segment`` each window belongs to (``("eval", block)`` with block -1 before training, or
    ``("train", block)``), its ``task`` and ``epoch`` (-1 in evaluations)."""

    x: torch.Tensor
    labels: np.ndarray
    segment: list
    task: list
    epoch: np.ndarray

    @property
    def learn(self) -> np.ndarray:
        return np.array([kind == "train" for kind, _ in self.segment])


def layout(study: Study, tasks: dict[str, TaskData], seed: int) -> Layout:
    """Evaluation and training windows of the sequence (seeded draws of samples)."""
    spec = study.brian2
    rng = np.random.default_rng(seed)
    xs, ys, segment, names, epochs = [], [], [], [], []

    def add(x, y, seg, task, epoch):
        xs.append(x)
        ys.append(y.numpy())
        segment.extend([seg] * len(y))
        names.extend([task] * len(y))
        epochs.extend([epoch] * len(y))

    chosen = {name: rng.permutation(len(t.y_test))[: spec.eval_samples] for name, t in tasks.items()}

    def evaluation(block):
        for name, task in tasks.items():
            add(task.x_test[chosen[name]], task.y_test[chosen[name]], ("eval", block), name, -1)

    evaluation(-1)
    epoch = 0
    for index, block in enumerate(study.blocks):
        task = tasks[block.task]
        for _ in range(block.epochs):
            order = np.resize(rng.permutation(len(task.y_train)), spec.train_samples)
            add(task.x_train[order], task.y_train[order], ("train", index), block.task, epoch)
            epoch += 1
        evaluation(index)
    return Layout(torch.cat(xs), np.concatenate(ys), segment, names, np.array(epochs))


def _rule(variant: str, study: Study, lay: Layout, window_s: float, w0_bound: float):
    """The variant's rule factory for `dassdp.bridge.to_brian2` (None for ``none``) and the
    equation lines its pre/post groups need."""
    from brian2 import second

    from dassdp.rules.brian2 import DASSDP, DASTDP, SSDP, STDP, SpikeCountLoss, neuron_variables
    from dassdp.rules.reference import DASTDPParams, Schedule, STDPParams

    spec = study.brian2
    dt = spec.dt_ms * 1e-3
    schedule = Schedule(lay.learn.astype(float), window_s)
    if variant == "none":
        return None, {}
    if variant in ("stdp", "dastdp"):
        p = spec.stdp if variant == "stdp" else spec.dastdp
        bound = p.w_bound or 2 * w0_bound

        def dense_to_synapses(w0, connect):
            return w0[connect["j"], connect["i"]]

        if variant == "stdp":
            params = STDPParams(tau_plus=p.tau_plus_ms * 1e-3, tau_minus=p.tau_minus_ms * 1e-3, a_plus=p.a_plus,
                                a_minus=p.a_minus, w_min=-bound, w_max=bound)
            return (lambda pre, post, w0, connect, **kw: STDP(pre, post, params, schedule, connect=connect,
                                                              w0=dense_to_synapses(w0, connect), **kw)), {}
        params = DASTDPParams(tau_c=p.tau_c_ms * 1e-3, tau_n=p.tau_n_ms * 1e-3, tau_plus=p.tau_plus_ms * 1e-3,
                              tau_minus=p.tau_minus_ms * 1e-3, a_plus=p.a_plus, a_minus=-p.a_minus, b=p.b,
                              w_min=-bound, w_max=bound)

        def dastdp(pre, post, w0, connect, **kw):
            volume = reward_dopamine(post, lay.labels, schedule, window_s, params.tau_n, spec.signal, p.rpe_rate)
            rule = DASTDP(pre, post, volume, params, schedule, connect=connect, w0=dense_to_synapses(w0, connect), **kw)
            rule.objects += volume.objects
            return rule

        return dastdp, {LABELS: "DA : 1\n" + neuron_variables("readout")}
    d = spec.dassdp
    kwargs = dict(sigma=d.sigma_steps * dt * second, a_plus=d.a_plus, a_base=d.a_base, clip=d.clip,
                  latency=d.latency, schedule=schedule)
    extra = {f"lif{len(study.network.hidden) - 1}": neuron_variables("pre"),
             LABELS: neuron_variables("post") + neuron_variables("readout")}
    window = window_s * second
    if variant == "ssdp":
        return (lambda pre, post, **kw: SSDP(pre, post, window, **kwargs, **kw)), extra
    return (lambda pre, post, **kw: DASSDP(pre, post, window, gate=d.gate, warmup=d.warmup,
                                           loss=SpikeCountLoss(post, lay.labels), **kwargs, **kw)), extra


def reward_dopamine(labels_group, labels, schedule, window_s: float, tau_n: float, signal: str, rate: float):
    """A `DopamineVolume` (``tau_DA = tau_n``, no tonic level) that, at the end of every learning
    window, receives ``(r - rbar) / tau_n`` (``signal`` with reward: reward prediction error, see
    the module docstring) or ``1 / tau_n`` (teacher only); `DASTDP` delivers it."""
    from brian2 import Synapses, TimedArray, second

    from dassdp.models.dopamine import DopamineVolume
    from dassdp.rules.brian2.windows import schedule_table, track_windows

    volume = DopamineVolume(tau_DA=tau_n * second, DA_tonic=0.0, extra="n_label : 1\nn_total : 1\nrbar : 1",
                            name=labels_group.name + "_dopamine*")
    volume.group.namespace.update({"reward_learn": schedule_table(schedule), "reward_T": window_s * second,
                                   "reward_tau": tau_n, "reward_rate": rate})
    counts = Synapses(labels_group, volume.group, model="""
        n_label_post = ssdp_count_pre * int(abs(i - reward_label(t - dt)) < 0.5) : 1 (summed)
        n_total_post = ssdp_count_pre : 1 (summed)""",
        namespace={"reward_label": TimedArray(np.asarray(labels, dtype=np.float64), dt=window_s * second)},
        name=volume.group.name + "_counts*")
    counts.connect()
    reward = "(n_label / (n_total + int(n_total == 0)) - rbar)" if signal != "teacher" else "1"
    code = f"""on = int(t > 0*second) * reward_learn(t - 0.5 * reward_T)
DA += on * {reward} / reward_tau
rbar += on * reward_rate * (n_label / (n_total + int(n_total == 0)) - rbar)"""
    release = volume.group.run_regularly(code, dt=window_s * second, when="groups", order=volume.group.order + 1)
    volume.objects += [counts, release, *track_windows(labels_group, window_s * second, "first", "readout")]
    return volume


def quiet_brian2() -> None:
    """Brian2's console log at WARNING, without the warning that one-to-all dopamine deliveries
    (``DA_post = DA_pre``, one source per target, so well defined) trigger in every run."""
    import logging

    from brian2 import BrianLogger

    BrianLogger.console_handler.setLevel(logging.WARNING)
    BrianLogger.suppress_hierarchy("brian2.codegen.generators.base")


@contextlib.contextmanager
def build_directory(spec: RunSpec, root: Path | None):
    """A directory for the run's standalone project. Without ``root``: a temporary one. With it:
    ``root/<target>-<variant>-<hash of the study without seeds>/slot<k>``, the first slot no other
    process holds (an exclusive ``flock``). Runs of one variant that differ only in the seed
    generate identical code, and Brian2 rewrites only files whose content changed, so every
    seed after the first in a slot reuses the compiled project (compile once, run many)."""
    if root is None:
        with tempfile.TemporaryDirectory(prefix="dassdp-brian2-phase-") as tmp:
            yield Path(tmp)
        return
    study = spec.resolved()
    key = hashlib.sha256(canonical_json({"study": spec.study, "variant": spec.variant}).encode()).hexdigest()[:12]
    family = Path(root) / f"{study.brian2.target}-{spec.variant}-{key}"
    family.mkdir(parents=True, exist_ok=True)
    for slot in itertools.count():
        with open(family / f"slot{slot}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield family / f"slot{slot}"
            return


def execute_brian2(spec: RunSpec, build_root: Path | None = None) -> dict:
    """The run's tables (see the module docstring); standalone projects are built in
    `build_directory` (``build_root``: reuse compiled projects across seeds)."""
    from brian2 import StateMonitor, defaultclock, ms, second

    from dassdp.bridge import to_brian2
    from dassdp.models.targets import STANDALONE, use_target
    from dassdp.rules.brian2.ssdp import DASSDP, WeightMonitor

    torch.set_num_threads(1)
    quiet_brian2()
    # free the Brian2 objects of an earlier run in this process: names ending in "*" are numbered
    # past live objects, and renamed objects would defeat the reuse of compiled projects
    gc.collect()
    study, variant, seed = spec.resolved(), spec.variant, spec.seed
    b2 = study.brian2
    tasks, n_classes = make_tasks(study)
    model = pretrain(study, tasks, n_classes, seed)
    theta = label_threshold(model, study, tasks)
    network = spiking_readout(model, theta)
    lay = layout(study, tasks, seed)
    T = study.network.n_steps
    window_s = T * b2.dt_ms * 1e-3
    n_windows = len(lay.labels)
    drive = None  # the teacher: a current into the correct label neuron in training windows
    if b2.signal != "reward":
        teacher = np.zeros((n_windows, T, n_classes))
        train = lay.learn
        teacher[np.flatnonzero(train), :, lay.labels[train]] = b2.teacher * theta
        drive = {LABELS: teacher.reshape(-1, n_classes)}
    w_readout = model.readout.weight.detach().double().numpy()
    factory, extra = _rule(variant, study, lay, window_s, float(np.abs(w_readout).max()))
    hidden = f"lif{len(study.network.hidden) - 1}"

    with build_directory(spec, build_root if b2.target in STANDALONE else None) as build, use_target(b2.target, build):
        defaultclock.dt = b2.dt_ms * ms
        conv = to_brian2(network, lay.x, n_steps=T, encoding=study.network.encoding, seed=seed,
                         plastic={PLASTIC_LAYER: factory} if factory else None, drive=drive,
                         extra_variables=extra, name="phase")
        labels_group = conv.groups[LABELS]
        projection = next(p for p in conv.projections if p.name == PLASTIC_LAYER)
        potential = StateMonitor(labels_group, "v", record=True, when="end", name="phase_label_v")
        if isinstance(projection.rule, DASSDP):  # its w is a sum of two recorded parts
            weights = projection.rule.monitor_weights(window_s * second, when="end", name="phase_w")
        else:
            weights = WeightMonitor(StateMonitor(projection.synapses, "w", record=True, dt=window_s * second,
                                                 when="end", name="phase_w"))
        monitors = [potential, *weights.objects]
        dopamine_monitor = None
        if variant == "dassdp":  # the gate, delivered as dopamine; sample m + 1 is window m's
            dopamine_monitor = projection.rule.monitor(("DA",))
        elif variant == "dastdp":  # the volume right after window m's release, at the start of m + 1
            dopamine_monitor = StateMonitor(projection.rule.volume.group, "DA", record=0, dt=window_s * second,
                                            when="after_groups", name="phase_dopamine")
        if dopamine_monitor is not None:
            monitors.append(dopamine_monitor)
        conv.network.add(monitors)
        conv.run()
        rasters = conv.spike_rasters()
        v_end = np.asarray(potential.v[:]).T.reshape(n_windows, T, n_classes)[:, -1]
        w_windows = np.asarray(weights.w[:]).T  # [window, synapse]
        syn_i, syn_j = np.asarray(projection.synapses.i[:]), np.asarray(projection.synapses.j[:])
        dopamine = np.asarray(dopamine_monitor.DA[0][1:]) if dopamine_monitor is not None else None
        fitted = projection.rule.fitted_gate() if variant == "dassdp" else None

    counts = rasters[LABELS].reshape(n_windows, T, n_classes).sum(1)
    integrated = counts * theta + v_end
    pre_fired = rasters[hidden].reshape(n_windows, T, -1).any(1)
    post_fired = counts > 0
    synchrony = pre_fired.mean(1) * post_fired.mean(1)
    shifted = counts - counts.max(1, keepdims=True)
    loss = np.log(np.exp(shifted).sum(1)) - shifted[np.arange(n_windows), lay.labels]
    return run_tables(
        spec,
        _training_rows(study, lay, loss, integrated.argmax(1), synchrony, dopamine, variant),
        _evaluation_rows(study, tasks, n_classes, lay, integrated, synchrony),
        _weight_rows(study, model, lay, w_windows, syn_i, syn_j),
        PLASTIC_LAYER, fitted, BRIAN2_TRAINING_COLUMNS,
    )


def _training_rows(study, lay: Layout, loss, prediction, synchrony, dopamine, variant: str) -> list[dict]:
    """One row per training window. ``prediction`` is over all label neurons, teacher included;
    ``dopamine``: the DA-SSDP gate delivered for the window, or DA-STDP's dopamine level right
    after the window's release (NaN for the other rules)."""
    rows, trial = [], 0
    window_in_epoch: dict[int, int] = {}
    for w, (kind, block) in enumerate(lay.segment):
        if kind != "train":
            continue
        epoch = int(lay.epoch[w])
        batch = window_in_epoch[epoch] = window_in_epoch.get(epoch, -1) + 1
        warmup = variant == "dassdp" and trial < study.brian2.dassdp.warmup
        level = float(dopamine[w]) if dopamine is not None else float("nan")
        gate = level if variant == "dassdp" and not warmup else float("nan")
        rows.append({"block": block, "task": lay.task[w], "epoch": epoch, "batch": batch, "trial": trial,
                     "loss": float(loss[w]), "accuracy": float(prediction[w] == lay.labels[w]),
                     "synchrony": float(synchrony[w]), "gate": gate, "warmup": warmup, "label": int(lay.labels[w]),
                     "prediction": int(prediction[w]), "dopamine": level})
        trial += 1
    return rows


def _evaluation_rows(study, tasks, n_classes, lay: Layout, integrated, synchrony) -> list[dict]:
    rows = []
    segments = np.array([f"{kind}:{block}" for kind, block in lay.segment])
    names = np.array(lay.task)
    for block in range(-1, len(study.blocks)):
        for name, task in tasks.items():
            where = (segments == f"eval:{block}") & (names == name)
            mask = task_mask(study, task, n_classes, "cpu")
            scores = integrated[where] if mask is None else np.where(mask.numpy(), integrated[where], -np.inf)
            rows.append({"block": block, "trained_task": study.blocks[block].task if block >= 0 else "",
                         "eval_task": name, "accuracy": float((scores.argmax(1) == lay.labels[where]).mean()),
                         "synchrony": float(synchrony[where].mean())})
    return rows


def _weight_rows(study, model, lay: Layout, w_windows, syn_i, syn_j) -> list[dict]:
    """Weight statistics after every block: the hidden layers (fixed in this phase) and the
    readout projection as recorded at the first window of the block's evaluation."""
    fixed = {name: w for name, w in linear_weights(model).items() if name != PLASTIC_LAYER}
    n_post, n_pre = model.readout.weight.shape

    def dense(sample):
        w = np.zeros((n_post, n_pre))
        w[syn_j, syn_i] = w_windows[sample]
        return torch.from_numpy(w)

    initial = {**fixed, PLASTIC_LAYER: dense(0)}
    previous = dict(initial)
    rows = []
    for block_index, block in enumerate(study.blocks):
        first = lay.segment.index(("eval", block_index))
        weights = {**fixed, PLASTIC_LAYER: dense(first)}
        rows += [{"block": block_index, "trained_task": block.task, **row} for row in weight_stats(weights, initial, previous)]
    return rows
