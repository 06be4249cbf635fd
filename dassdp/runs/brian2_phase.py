"""The Brian2 phase of a run (``phase = "brian2"``): pretrain in PyTorch, convert exactly, then
run the task sequence in Brian2 with a local plasticity rule on the readout projection.

1. **Pretraining.** The `SpikingMLP` of the study is surrogate-trained in PyTorch on
   ``brian2.pretrain`` (default: the first block's task) for ``brian2.pretrain_epochs`` epochs,
   as in the PyTorch phase; every variant of a seed starts from the same network. With
   ``brian2.head = "masked"`` (default) the logits are masked to the pretraining tasks' classes
   and the readout rows and biases of every other class are then set to 0: the label neurons of
   a new task start neither suppressed nor favoured.
2. **Label neurons.** The non-spiking readout (logit ``= mean_t (W s[t] + b)``) becomes
   integrate-and-fire *label neurons* (`dassdp.models.snn.LIF` with ``beta = 1``, subtractive
   reset, threshold ``theta``): ``v[t] = v[t-1] + W s[t] + b``, a spike when ``v > theta``, then
   ``v -= theta``. Their spike count ``n`` and final potential satisfy
   ``n theta + v[T-1] = sum_t (W s[t] + b) = T logit``, so the prediction
   ``argmax(n theta + v[T-1])`` equals PyTorch's while the spikes drive the rules. ``theta`` is the
   mean over the pretraining samples of ``max(T logit_label, 0)`` divided by ``readout_spikes``.
   Evaluation scores this prediction over the task's classes (``tasks.scenario = "task"``) or
   over all classes (``"class"``).
3. **Schedule.** One sample per window of ``T`` steps of ``dt_ms``. An evaluation segment
   (``eval_samples`` test samples of every task) comes before training and after every block; a
   block presents ``train_samples`` training samples of its task per epoch (a fresh seeded draw
   per epoch). One Brian2 run covers the whole sequence, so it runs unchanged on every target,
   ``cuda_standalone`` included. Plasticity follows a `dassdp.rules.reference.Schedule`: on in
   training windows, off in evaluation windows.
4. **Task signal and learning circuit** (the same for every variant, `Circuit`). ``teacher``: a
   current of ``teacher * theta`` per step into the correct label neuron in training windows.
   DA-STDP's dopamine is the reward prediction error of each training window's outcome
   (`dassdp.rules.brian2.reward`). Every variant's readout weights are bounded by the same
   ``w_bound``; optional lateral inhibition among the label neurons in training windows
   (`dassdp.models.competition`) and normalisation per label neuron
   (`dassdp.rules.brian2.normalization`).
5. **Rules** on the projection last hidden layer -> label neurons: ``none``, ``stdp``, ``dastdp``,
   ``ssdp`` and ``dassdp`` (gate fitted on ``brian2.dassdp.warmup`` training windows, with the
   spike-count cross-entropy of the label neurons as the loss, computed in the network), with
   their amplitudes multiplied by ``brian2.rate_scale``. The phase reads every rule through
   `dassdp.rules.brian2.protocol.BrianRule`.
6. **Replicas.** Runs of one variant that differ only in the seed and ``brian2.rate_scale``
   (`dassdp.runs.study.batch_key`) can run as R replicas of one network in one simulation
   (`execute_brian2_batch`): every group holds R blocks, the projections are block-diagonal
   (`dassdp.bridge.replicas.Replicas`), and each replica keeps its own pretrained network,
   samples, teacher, threshold, bounds, set points, amplitudes, labels, loss and dopamine
   (`dassdp.rules.brian2.replicas`), so each run's tables equal those it gives alone.

The tables have the PyTorch phase's schema (`dassdp.runs.tasks`): ``training`` one row per
training window (loss: the spike-count cross-entropy; accuracy: 1 if the prediction, teacher
included, is the label; synchrony ``S = mean_(i,j) fired_i fired_j`` of the plastic projection;
gate: the dopamine-borne gate of DA-SSDP; plus ``label``, ``prediction``, ``dopamine`` and
``free_prediction``/``free_accuracy``, the label neurons' prediction without the teacher),
``evaluations`` per evaluation and task, ``weights`` per block, ``gate`` the fitted gate.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import itertools
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dassdp.rules.brian2.normalization import RowNormalization
from dassdp.rules.brian2.protocol import WeightMonitor
from dassdp.rules.brian2.reward import reward_prediction_error
from dassdp.rules.reference import (
    DASTDPParams,
    Schedule,
    STDPParams,
    activity_from_raster,
    row_set_points,
    sample_synchrony,
)
from dassdp.runs.study import RunSpec, Study, batch_key, canonical_json
from dassdp.runs.tasks import (
    BRIAN2_TRAINING_COLUMNS,
    TaskData,
    build_model,
    linear_weights,
    make_tasks,
    run_tables,
    task_mask,
    train_epoch,
    weight_stats,
)

__all__ = [
    "Circuit",
    "Layout",
    "Member",
    "build_directory",
    "execute_brian2",
    "execute_brian2_batch",
    "label_threshold",
    "layout",
    "pretrain",
    "quiet_brian2",
    "spiking_readout",
]

PLASTIC_LAYER = "readout"
LABELS = "label"


def pretrain(study: Study, tasks: dict[str, TaskData], n_classes: int, seed: int):
    """The study's network after surrogate-gradient training on the pretraining tasks (see the
    module docstring for ``brian2.head``)."""
    torch.manual_seed(seed)
    n_in = next(iter(tasks.values())).x_train.shape[1]
    model = build_model(study, n_in, n_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=study.training.lr)
    order = torch.Generator().manual_seed(seed)
    spikes = torch.Generator().manual_seed(seed + 7_919)
    seen = torch.zeros(n_classes, dtype=torch.bool)
    for name in pretrain_tasks(study):
        seen[list(tasks[name].classes)] = True
    masked = study.brian2.head == "masked"
    for name in pretrain_tasks(study):
        task = tasks[name]
        mask = task_mask(study, task, n_classes, "cpu")
        if masked and mask is None:
            mask = seen
        for _ in range(study.brian2.pretrain_epochs):
            for _ in train_epoch(model, optimizer, task, study, mask, order, spikes, "cpu"):
                pass
    if masked:
        with torch.no_grad():
            model.readout.weight[~seen] = 0.0
            model.readout.bias[~seen] = 0.0
    return model.eval()


def pretrained(study: Study, tasks: dict[str, TaskData], n_classes: int, seed: int, cache: Path | None = None):
    """`pretrain`, or its result from ``cache``: one file per pretraining (the hash of the data
    set, tasks, network, training and pretraining fields of the study, and the seed), written
    atomically, so that the variants and calibration points of a seed share one pretraining.
    Pretraining is deterministic, so a cached network equals a recomputed one bit for bit."""
    if cache is None:
        return pretrain(study, tasks, n_classes, seed)
    from dassdp.runs import store

    fields = {key: getattr(study, key).model_dump(mode="json") for key in ("dataset", "tasks", "network", "training")}
    b2 = study.brian2
    fields["pretrain"] = {"tasks": pretrain_tasks(study), "epochs": b2.pretrain_epochs, "head": b2.head, "seed": seed}
    path = Path(cache) / f"{hashlib.sha256(canonical_json(fields).encode()).hexdigest()[:16]}.pt"
    n_in = next(iter(tasks.values())).x_train.shape[1]
    if path.is_file():
        model = build_model(study, n_in, n_classes)
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    model = pretrain(study, tasks, n_classes, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_atomic(path, lambda tmp: torch.save(model.state_dict(), tmp))
    return model


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


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class Circuit:
    """The learning circuit around the plastic readout, the same for every variant: weight bounds
    ``[-bound, bound]``, the normalisation (None: none), the lateral inhibition strength and the
    plasticity schedule (training windows)."""

    bound: float
    normalization: RowNormalization | None
    inhibition: float
    schedule: Schedule

    @property
    def window_s(self) -> float:
        return self.schedule.window

    @classmethod
    def of(cls, study: Study, lay: Layout, w0: np.ndarray, window_s: float) -> Circuit:
        spec = study.brian2
        normalization = None
        if spec.normalization != "none":
            normalization = RowNormalization(spec.normalization, *row_set_points(w0))
        largest = float(np.abs(w0).max())
        if spec.w_bound is not None and spec.w_bound < largest:
            raise ValueError(
                f"brian2.w_bound ({spec.w_bound}) is below the largest initial weight ({largest:.4g}): it "
                "would clip the plastic variants at their first update but never 'none'"
            )
        bound = spec.w_bound or 2 * largest
        return cls(bound, normalization, spec.inhibition, Schedule(lay.learn.astype(float), window_s))


@dataclass(eq=False)  # holds arrays and a model: compared by identity
class Member:
    """One run of the phase, prepared for the simulation (replica r of a batch, see
    `execute_brian2_batch`): its study, tasks, pretrained ``model``, label threshold ``theta``,
    window ``lay``-out, ``teacher`` current ``[window, step, class]``, learning ``circuit`` and the
    classes each window is ``scored`` over."""

    spec: RunSpec
    study: Study
    tasks: dict
    n_classes: int
    model: nn.Module
    theta: float
    lay: Layout
    teacher: np.ndarray
    circuit: Circuit
    scored: np.ndarray

    @classmethod
    def of(cls, spec: RunSpec, pretrained_root: Path | None = None, tasks=None) -> Member:
        """``tasks``: `dassdp.runs.tasks.make_tasks` of the run's study, if made already (the
        runs of a batch share their data)."""
        study, seed = spec.resolved(), spec.seed
        b2 = study.brian2
        tasks, n_classes = tasks or make_tasks(study)
        model = pretrained(study, tasks, n_classes, seed, pretrained_root)
        theta = label_threshold(model, study, tasks)
        lay = layout(study, tasks, seed)
        T = study.network.n_steps
        teacher = np.zeros((len(lay.labels), T, n_classes))  # a current into the correct label neuron
        if b2.signal == "teacher":
            train = lay.learn
            teacher[np.flatnonzero(train), :, lay.labels[train]] = b2.teacher * theta
        w0 = model.readout.weight.detach().double().numpy()
        circuit = Circuit.of(study, lay, w0, T * b2.dt_ms * 1e-3)
        scored = scored_classes(study, tasks, n_classes, lay)
        return cls(spec, study, tasks, n_classes, model, theta, lay, teacher, circuit, scored)


def _per_replica(values: list):
    """One value for one run; the list of the replicas' values for several."""
    return values[0] if len(values) == 1 else values


def _rule(variant: str, members: list[Member]):
    """The variant's rule factory for `dassdp.bridge.to_brian2` (None for ``none``) and the
    equation lines its pre/post groups need, for one run or for the replicas of a batch (rule
    constants, bounds, labels, scored classes and normalisation set points per replica)."""
    from brian2 import second

    from dassdp.rules.brian2 import (
        DASSDPSynapses,
        DASTDPSynapses,
        ReadoutLoss,
        SpikeCountLoss,
        SSDPSynapses,
        STDPSynapses,
        neuron_variables,
    )
    from dassdp.rules.brian2.normalization import POST_VARIABLES

    first, R = members[0], len(members)
    study, circuit = first.study, first.circuit
    spec = study.brian2
    window = circuit.window_s * second
    labels = np.stack([m.lay.labels for m in members]) if R > 1 else first.lay.labels
    scored = np.stack([m.scored for m in members]) if R > 1 else first.scored
    normalization = circuit.normalization
    if R > 1 and normalization is not None:
        parts = [m.circuit.normalization for m in members]
        spread = None if normalization.spread is None else np.concatenate([p.spread for p in parts])
        normalization = RowNormalization(normalization.mode, np.concatenate([p.mean for p in parts]), spread)
    labels_extra = POST_VARIABLES if normalization is not None else ""
    common = dict(schedule=circuit.schedule, normalization=normalization)  # replicas: from the bridge
    scales = [m.study.brian2.rate_scale for m in members]
    bounds = [dict(w_min=-m.circuit.bound, w_max=m.circuit.bound) for m in members]
    if variant == "none":
        return None, {}
    if variant in ("stdp", "dastdp"):
        p = spec.stdp if variant == "stdp" else spec.dastdp
        timing = dict(tau_plus=p.tau_plus_ms * 1e-3, tau_minus=p.tau_minus_ms * 1e-3, same_step=p.same_step)

        def w0_per_synapse(w0, connect):
            """``w0`` (a matrix, or one per replica) per synapse (one row per replica)."""
            return np.asarray(w0)[..., connect["j"], connect["i"]]

        if variant == "stdp":
            params = _per_replica(
                [STDPParams(a_plus=s * p.a_plus, a_minus=s * p.a_minus, **timing, **b) for s, b in zip(scales, bounds)]
            )

            def stdp(pre, post, w0, connect, **kw):
                return STDPSynapses(pre, post, params, connect=connect, w0=w0_per_synapse(w0, connect), **common, **kw)

            return stdp, {LABELS: labels_extra}
        params = _per_replica(
            [
                DASTDPParams(
                    tau_c=p.tau_c_ms * 1e-3,
                    tau_n=p.tau_n_ms * 1e-3,
                    a_plus=s * p.a_plus,
                    a_minus=-s * p.a_minus,
                    b=p.b,
                    **timing,
                    **b,
                )
                for s, b in zip(scales, bounds)
            ]
        )

        def dastdp(pre, post, w0, connect, **kw):
            volume = reward_prediction_error(
                post,
                labels,
                circuit.schedule,
                circuit.window_s,
                p.tau_n_ms * 1e-3,
                p.rpe_rate,
                tonic=p.tonic / circuit.window_s,
            )
            rule = DASTDPSynapses(
                pre, post, volume, params, connect=connect, w0=w0_per_synapse(w0, connect), **common, **kw
            )
            rule.objects += volume.objects
            return rule

        return dastdp, {LABELS: "DA : 1\n" + neuron_variables("readout") + labels_extra}
    d = spec.dassdp
    params = _per_replica([d.params(variant, s, **b) for s, b in zip(scales, bounds)])
    hidden = f"lif{len(study.network.hidden) - 1}"
    extra = {
        hidden: neuron_variables("pre"),
        LABELS: neuron_variables("post") + neuron_variables("readout") + labels_extra,
    }

    if variant == "ssdp":
        return (lambda pre, post, **kw: SSDPSynapses(pre, post, window, params, **common, **kw)), extra
    extra[hidden] += neuron_variables("readout")  # the window's spike counts, for the readout loss

    def loss(pre, post):
        if d.loss == "spike_count":
            return SpikeCountLoss(post, labels)
        return ReadoutLoss(pre, post, labels, study.network.n_steps, classes=scored)

    return (
        lambda pre, post, **kw: DASSDPSynapses(
            pre, post, window, params, warmup=d.warmup, loss=loss(pre, post), **common, **kw
        )
    ), extra


def quiet_brian2() -> None:
    """Brian2's console log at WARNING (its INFO messages, e.g. about code it could not vectorise,
    would flood the output of a study); the harmless warnings of our own code are filtered by
    `dassdp.rules.brian2.log_filters`. Brian2's "OpenMP code is not yet well tested" is dropped:
    the phase draws no random numbers inside Brian2, and its networks give one thread's numbers
    bit for bit on several (a standalone test compares them)."""
    import logging

    from brian2 import BrianLogger

    BrianLogger.console_handler.setLevel(logging.WARNING)
    BrianLogger.suppress_hierarchy("brian2.devices.cpp_standalone.device.openmp")  # suppress_name: last part only


@contextlib.contextmanager
def build_directory(specs: list[RunSpec], root: Path | None, threads: int | None = None):
    """A directory for the standalone project of a run, or of a batch of ``specs`` run as
    replicas. Without ``root``: a temporary one. With it:
    ``root/<target>-<variant>-<hash>/slot<k>``, the first slot no other process holds (an
    exclusive ``flock``); the hash is that of the first run's `dassdp.runs.study.batch_key`
    (variant and study without seed, rate scale and execution fields), the number of replicas
    and ``threads`` (the OpenMP threads the project is compiled for, resolved from
    ``brian2.threads``). Batches of one variant generate identical code (their per-replica values
    are data), and Brian2 rewrites only files whose content changed, so every later one in a
    slot reuses the compiled project (compile once, run many); one-run simulations whose
    constants differ (a seed's bound, a rate scale) recompile what changed. Projects for other
    thread or replica counts never share a slot."""
    if root is None:
        with tempfile.TemporaryDirectory(prefix="dassdp-brian2-phase-") as tmp:
            yield Path(tmp)
        return
    first = specs[0]
    key = canonical_json({"batch": batch_key(first), "threads": threads, "replicas": len(specs)})
    family = (
        Path(root) / f"{first.resolved().brian2.target}-{first.variant}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    )
    family.mkdir(parents=True, exist_ok=True)
    for slot in itertools.count():
        with open(family / f"slot{slot}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield family / f"slot{slot}"
            return


def execute_brian2(
    spec: RunSpec,
    build_root: Path | None = None,
    pretrained_root: Path | None = None,
    concurrent: int = 1,
    timings: dict | None = None,
) -> dict:
    """The run's tables (see the module docstring): `execute_brian2_batch` of one run."""
    return execute_brian2_batch([spec], build_root, pretrained_root, concurrent, timings)[0]


def execute_brian2_batch(
    specs: list[RunSpec],
    build_root: Path | None = None,
    pretrained_root: Path | None = None,
    concurrent: int = 1,
    timings: dict | None = None,
) -> list[dict]:
    """The tables of each of ``specs`` (see the module docstring), run as R = ``len(specs)``
    replicas of one Brian2 network in one simulation.

    The runs must share the variant and the study except for the seed and ``brian2.rate_scale``
    (`dassdp.runs.study.batch_key`; ValueError otherwise). Replica r is run r: its own pretrained network (the
    converted `dassdp.bridge.replicas.Replicas` of every run's network: block-diagonal
    projections), input samples and encoding seed, teacher current, label threshold, weight
    bounds, normalisation set points, rule amplitudes, labels, loss and dopamine volume
    (`dassdp.rules.brian2.replicas`). No synapse crosses replicas, so every run's tables equal
    those of the run alone (a test compares them). One run (R = 1) builds the network without
    replicas.

    Standalone projects are built in `build_directory` (``build_root``: reuse compiled projects
    across seeds and batches); pretrained networks are kept in ``pretrained_root`` (`pretrained`).
    ``concurrent``: how many runs or batches execute at once on this host; ``brian2.threads =
    "auto"`` gives cpp_standalone the usable cores divided by it
    (`dassdp.models.targets.default_threads`). ``timings``, a dict, receives the seconds spent
    preparing the runs (pretraining or reading the cache, layouts: ``prepare_s``), building the
    Brian2 objects (``build_s``), running (``run_s``: on standalone targets code generation,
    compilation and the simulation, of which ``simulate_s`` the simulation alone) and reading
    the results back into tables (``read_s``), and the simulation's ``synaptic_events`` (`synaptic_events`)."""
    from brian2 import StateMonitor, defaultclock, device, ms, second

    from dassdp.bridge import to_brian2
    from dassdp.bridge.brian2 import prepare_inputs
    from dassdp.bridge.replicas import Replicas
    from dassdp.models.competition import lateral_inhibition
    from dassdp.models.targets import STANDALONE, default_threads, use_target

    if not specs:
        raise ValueError("execute_brian2_batch: no runs given")
    keys = {batch_key(spec) for spec in specs}
    if len(keys) > 1 or None in keys:
        raise ValueError(
            "execute_brian2_batch: the runs of a batch must share the variant and the study except for the seed "
            f"and brian2.rate_scale; got {len(keys)} different ones"
        )
    torch.set_num_threads(1)
    quiet_brian2()
    # free the Brian2 objects of an earlier run in this process: names ending in "*" are numbered
    # past live objects, and renamed objects would defeat the reuse of compiled projects
    gc.collect()
    clock = _Stopwatch(timings)
    tasks = make_tasks(specs[0].resolved())  # one copy of the data for the batch (same data and tasks)
    members = [Member.of(spec, pretrained_root, tasks) for spec in specs]
    clock.lap("prepare_s")
    first, R = members[0], len(members)
    for member in members[1:]:  # the window structure is the study's, never the seed's: checked
        if member.lay.segment != first.lay.segment or not np.array_equal(member.lay.learn, first.lay.learn):
            raise ValueError("execute_brian2_batch: the runs of a batch must present the same window structure")
    study, variant = first.study, first.spec.variant
    b2, net = study.brian2, study.network
    T, n_classes = net.n_steps, first.n_classes
    window_s = first.circuit.window_s
    n_windows = len(first.lay.labels)
    factory, extra = _rule(variant, members)
    hidden = f"lif{len(net.hidden) - 1}"
    if R == 1:
        network, inputs, encoding = spiking_readout(first.model, first.theta), first.lay.x, net.encoding
    else:  # each replica's samples encoded with its own seed, side by side
        network = Replicas([spiking_readout(m.model, m.theta) for m in members])
        inputs = torch.cat([prepare_inputs(m.lay.x, T, net.encoding, m.spec.seed) for m in members], dim=-1)
        encoding = None
    drive = None
    if b2.signal == "teacher":
        drive = {LABELS: np.concatenate([m.teacher.reshape(-1, n_classes) for m in members], axis=1)}

    threads = None
    if b2.target == "cpp_standalone":
        threads = default_threads(concurrent) if b2.threads == "auto" else b2.threads
    with (
        build_directory(specs, build_root if b2.target in STANDALONE else None, threads) as build,
        use_target(b2.target, build, threads=threads),
    ):
        defaultclock.dt = b2.dt_ms * ms
        conv = to_brian2(
            network,
            inputs,
            n_steps=T,
            encoding=encoding,
            seed=first.spec.seed,
            plastic={PLASTIC_LAYER: factory} if factory else None,
            drive=drive,
            extra_variables=extra,
            name="phase",
        )
        labels_group = conv.groups[LABELS]
        projection = next(p for p in conv.projections if p.name == PLASTIC_LAYER)
        rule = projection.rule
        potential = StateMonitor(labels_group, "v", record=True, when="end", name="phase_label_v")
        if rule is not None:
            weights = rule.monitor_weights(window_s * second, when="end", name="phase_w")
            dopamine_monitor = rule.monitor_dopamine(name="phase_dopamine")
        else:
            weights = WeightMonitor(
                StateMonitor(projection.synapses, "w", record=True, dt=window_s * second, when="end", name="phase_w")
            )
            dopamine_monitor = None
        monitors = [potential, *weights.objects, *([dopamine_monitor] if dopamine_monitor is not None else [])]
        circuit = first.circuit
        if circuit.inhibition > 0:
            monitors.append(
                lateral_inhibition(
                    labels_group, circuit.inhibition, circuit.schedule, name="phase_label_inhibition", replicas=R
                )
            )
        conv.network.add(monitors)
        clock.lap("build_s")
        conv.run()
        clock.lap("run_s")
        if b2.target in STANDALONE:
            clock.record("simulate_s", float(getattr(device, "_last_run_time", None) or float("nan")))
        rasters = conv.spike_rasters()
        clock.record("synaptic_events", synaptic_events(conv))
        v_end = np.asarray(potential.v[:]).T.reshape(n_windows, T, R * n_classes)[:, -1]
        w_windows = np.asarray(weights.w[:]).T  # [window, synapse], replica by replica
        syn_i, syn_j = np.asarray(projection.synapses.i[:]), np.asarray(projection.synapses.j[:])
        dopamine = np.asarray(dopamine_monitor.DA[:])[:, 1:] if dopamine_monitor is not None else None
        fitted = rule.fitted_gate() if rule is not None else None

    n_hidden, m = rasters[hidden].shape[-1] // R, len(syn_i) // R
    tables = []
    for r, member in enumerate(members):
        own = slice(r * m, (r + 1) * m)
        tables.append(
            _run_tables(
                member,
                hidden=rasters[hidden][..., r * n_hidden : (r + 1) * n_hidden],
                labels=rasters[LABELS][..., r * n_classes : (r + 1) * n_classes],
                v_end=v_end[:, r * n_classes : (r + 1) * n_classes],
                w_windows=w_windows[:, own],
                syn_i=syn_i[own] - r * n_hidden,
                syn_j=syn_j[own] - r * n_classes,
                dopamine=None if dopamine is None else dopamine[r],
                fitted=fitted[r] if isinstance(fitted, list) else fitted,
            )
        )
    clock.lap("read_s")
    return tables


def synaptic_events(conv) -> int:
    """Spikes delivered through the synapses of a converted network in its run (all replicas):
    for every projection between spiking groups, each pre neuron's spike count times its
    synapses (an input given as current, as in this phase, has no synapses)."""
    rasters, events = conv.spike_rasters(), 0
    for projection in conv.projections:
        raster = rasters.get(projection.pre)
        if raster is None or projection.i is None or not len(projection.i):
            continue
        n = int(np.prod(raster.shape[2:]))
        counts = raster.reshape(-1, n).sum(0, dtype=np.int64)
        events += int(counts @ np.bincount(np.asarray(projection.i), minlength=n))
    return events


class _Stopwatch:
    """Seconds between laps, written into ``timings`` (nothing when it is None)."""

    def __init__(self, timings: dict | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.record(name, now - self.last)
        self.last = now

    def record(self, name: str, seconds: float) -> None:
        if self.timings is not None:
            self.timings[name] = seconds


def _run_tables(member: Member, *, hidden, labels, v_end, w_windows, syn_i, syn_j, dopamine, fitted) -> dict:
    """One run's tables from what its replica recorded: the spike rasters of the last hidden
    layer and of the label neurons ``[window, step, neuron]``, the label neurons' potential at
    each window's last step, the readout weights per window ``[window, synapse]`` with their
    ``syn_i``, ``syn_j``, the dopamine per window and the fitted gate."""
    study, lay, circuit, scored = member.study, member.lay, member.circuit, member.scored
    T, n_classes, theta = study.network.n_steps, member.n_classes, member.theta
    n_windows = len(lay.labels)
    label_raster = labels.reshape(n_windows, T, n_classes)
    counts = label_raster.sum(1)
    integrated = counts * theta + v_end
    # the label neurons' own input: without the teacher's current and the lateral inhibition (the
    # spikes of a window's steps 0 .. T-2 inhibit the others from the next step on)
    early = label_raster[:, :-1].sum(1)  # [window, label neuron]
    others = early.sum(1, keepdims=True) - early
    inhibition = circuit.inhibition * theta * others * lay.learn[:, None]
    own = integrated - member.teacher.sum(1) + inhibition
    # S = mean_(i,j) f_i f_j of the all-to-all projection, from the window rasters [T, window, n]
    pre = activity_from_raster(hidden.reshape(n_windows, T, -1).transpose(1, 0, 2))
    post = activity_from_raster(label_raster.transpose(1, 0, 2))
    synchrony = sample_synchrony(pre, post)
    b2 = study.brian2
    if b2.dassdp.loss == "readout":
        loss = readout_loss(own, scored, lay.labels, T)
    else:
        shifted = counts - counts.max(1, keepdims=True)
        loss = np.log(np.exp(shifted).sum(1)) - shifted[np.arange(n_windows), lay.labels]
    warmup = b2.dassdp.warmup if fitted is not None else 0
    return run_tables(
        member.spec,
        _training_rows(
            lay,
            scored,
            loss,
            integrated.argmax(1),
            own,
            synchrony,
            dopamine,
            warmup,
            gated=fitted is not None,
        ),
        _evaluation_rows(study, member.tasks, n_classes, lay, integrated, synchrony),
        _weight_rows(study, member.model, lay, w_windows, syn_i, syn_j),
        PLASTIC_LAYER,
        fitted,
        BRIAN2_TRAINING_COLUMNS,
        _raster_rows(lay, {"hidden": hidden, "label": labels}),
    )


def scored_classes(study: Study, tasks: dict[str, TaskData], n_classes: int, lay: Layout) -> np.ndarray:
    """``[window, class]``: the classes each window is scored over, its task's where the scenario
    is task-incremental, else all (as the evaluations score)."""
    masks = {name: task_mask(study, task, n_classes, "cpu") for name, task in tasks.items()}
    return np.stack([np.ones(n_classes, bool) if masks[t] is None else masks[t].numpy() for t in lay.task])


def readout_loss(own: np.ndarray, scored: np.ndarray, labels: np.ndarray, T: int) -> np.ndarray:
    """Per window, the cross-entropy of the logits ``own / T`` over the scored classes
    (`dassdp.rules.brian2.losses.ReadoutLoss`, computed from the recorded input)."""
    logits = np.where(scored, own / T, -np.inf)
    top = logits.max(1, keepdims=True)
    return np.log(np.exp(logits - top).sum(1)) + top[:, 0] - logits[np.arange(len(labels)), labels]


def _training_rows(
    lay: Layout, scored, loss, prediction, own, synchrony, dopamine, warmup: int, gated: bool
) -> list[dict]:
    """One row per training window. ``prediction`` is over all label neurons, teacher included;
    ``free_prediction`` (``free_accuracy``) is what the label neurons' own input says, without the
    teacher and the lateral inhibition, scored as an evaluation would: the learning curve;
    ``dopamine``: what the rule's dopamine monitor recorded for the window (`BrianRule`: the
    DA-SSDP gate, DA-STDP's level right after the window's release; NaN for rules without);
    ``gate``: the DA-SSDP gate after its ``warmup`` windows (``gated``), NaN otherwise."""
    rows, trial = [], 0
    window_in_epoch: dict[int, int] = {}
    for w, (kind, block) in enumerate(lay.segment):
        if kind != "train":
            continue
        epoch = int(lay.epoch[w])
        batch = window_in_epoch[epoch] = window_in_epoch.get(epoch, -1) + 1
        in_warmup = gated and trial < warmup
        level = float(dopamine[w]) if dopamine is not None else float("nan")
        gate = level if gated and not in_warmup else float("nan")
        free = int(np.where(scored[w], own[w], -np.inf).argmax())
        rows.append(
            {
                "block": block,
                "task": lay.task[w],
                "epoch": epoch,
                "batch": batch,
                "trial": trial,
                "loss": float(loss[w]),
                "accuracy": float(prediction[w] == lay.labels[w]),
                "synchrony": float(synchrony[w]),
                "gate": gate,
                "warmup": in_warmup,
                "label": int(lay.labels[w]),
                "prediction": int(prediction[w]),
                "dopamine": level,
                "free_prediction": free,
                "free_accuracy": float(free == lay.labels[w]),
            }
        )
        trial += 1
    return rows


def _raster_rows(lay: Layout, rasters: dict[str, np.ndarray]) -> list[dict]:
    """The spikes (rasters ``[window, step, neuron]``) of the first and last training window of
    every block."""
    rows = []
    train = [w for w, (kind, _) in enumerate(lay.segment) if kind == "train"]
    for block in sorted({lay.segment[w][1] for w in train}):
        windows = [w for w in train if lay.segment[w][1] == block]
        for position, w in (("first", windows[0]), ("last", windows[-1])):
            for population, raster in rasters.items():
                steps, neurons = np.nonzero(raster[w].reshape(raster.shape[1], -1))
                rows += [
                    {
                        "window": w,
                        "block": block,
                        "task": lay.task[w],
                        "label": int(lay.labels[w]),
                        "position": position,
                        "population": population,
                        "neuron": int(n),
                        "step": int(t),
                    }
                    for t, n in zip(steps, neurons, strict=True)
                ]
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
            rows.append(
                {
                    "block": block,
                    "trained_task": study.blocks[block].task if block >= 0 else "",
                    "eval_task": name,
                    "accuracy": float((scores.argmax(1) == lay.labels[where]).mean()),
                    "synchrony": float(synchrony[where].mean()),
                }
            )
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
        rows += [
            {"block": block_index, "trained_task": block.task, **row}
            for row in weight_stats(weights, initial, previous)
        ]
    return rows
