"""Study files: a TOML description of a continual-learning task-switch study, validated early.

A study names a data set, how its classes (or permutations of its inputs) form tasks, the
sequence of training blocks (``A -> B -> A``, epochs per block), the spiking network and its
input encoding, the PyTorch training phase (with or without DA-SSDP), the variants to compare,
the seeds and an optional ``[sweep]`` grid over any parameter (dotted names)::

    name = "digits_ab"
    variants = ["none", "ssdp", "dassdp"]
    seeds = [0, 1]
    device = "cpu"

    [dataset]
    name = "digits"               # digits | mnist1d | npz (with path = "file.npz")

    [tasks]
    kind = "classes"              # classes | permuted
    scenario = "task"             # task: logits masked to the task's classes; class: all logits
    [tasks.classes]
    A = [0, 1, 2, 3, 4]
    B = [5, 6, 7, 8, 9]

    [[sequence]]
    task = "A"
    epochs = 3

    [network]
    hidden = [64, 64]
    n_steps = 8
    encoding = "direct"

    [training]
    lr = 2e-3
    batch_size = 32

    [plasticity]
    layer = "lif.1"
    warmup_epochs = 1

    [sweep]
    "training.lr" = [1e-3, 2e-3]

Variants with ``phase = "torch"`` (the default): ``frozen`` (no training at all: the accuracies
must not move), ``none`` (surrogate gradients only), ``ssdp`` (plus DA-SSDP with the gate off, the
two-factor ablation) and ``dassdp`` (plus DA-SSDP with ``plasticity.gate``, continuous by
default). With ``phase = "brian2"`` the network is pretrained in PyTorch and the sequence runs in
Brian2 (``[brian2]``, `Brian2Spec`, `dassdp.runs.brian2_phase`) with the variants ``none``,
``stdp``, ``dastdp``, ``ssdp`` and ``dassdp`` on the readout projection; an optional
``[calibration]`` (`CalibrationSpec`) then picks each plastic variant's learning-rate scale on a
validation split before the study runs. ``reference`` names the variant that paired differences
are taken against.

`load_study` raises `StudyError` whose message names the offending field; the CLI turns it into
exit status 2 before anything is written. Validation is strict: a value of the wrong type is an
error, not converted (``"4"`` is not a count, ``true`` not a seed, ``32.0`` not a width; a TOML
integer is accepted where a real number is expected), real numbers must be finite, seeds lie in
``[0, 2**32 - 1]`` (numpy's and scikit-learn's seed range), counts are positive with the upper
bounds below (`MAX_EPOCHS`, ...), the study file is UTF-8 text (a leading byte-order mark is
ignored) and the sweep's grid points must give distinct runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dassdp.rules.reference import DASSDPParams

__all__ = [
    "RunSpec",
    "Study",
    "StudyError",
    "canonical_json",
    "calibrated_variants",
    "expand_calibration",
    "expand_runs",
    "first_pass",
    "load_study",
    "parse_study",
    "study_hash",
]

#: variants of each phase (``stdp`` and ``dastdp`` exist as Brian2 rules only)
PHASE_VARIANTS = {"torch": ("frozen", "none", "ssdp", "dassdp"), "brian2": ("none", "stdp", "dastdp", "ssdp", "dassdp")}
#: Brian2 variants that learn from the teacher current (DA-STDP learns from reward dopamine)
TEACHER_VARIANTS = ("stdp", "ssdp", "dassdp")
#: Brian2 variants with a learning rate that ``brian2.rate_scale`` multiplies
PLASTIC_VARIANTS = ("stdp", "dastdp", "ssdp", "dassdp")
#: number of classes of the built-in data sets
BUILTIN_CLASSES = {"digits": 10, "mnist1d": 10}
#: top-level keys a sweep may not vary
UNSWEEPABLE = ("name", "variants", "seeds", "sweep", "reference", "calibration")

#: largest seed: numpy's legacy ``RandomState`` / ``seed`` and scikit-learn's ``random_state`` range
MAX_SEED = 2**32 - 1
#: sane upper bounds: larger values are typos (they would run for days or exhaust memory)
MAX_EPOCHS = 1_000  # epochs of one block, pretraining epochs
MAX_WIDTH = 65_536  # neurons of a hidden layer
MAX_LAYERS = 32  # hidden layers
MAX_STEPS = 10_000  # time steps per sample
MAX_BATCH = 1_000_000  # samples per mini-batch
MAX_SAMPLES = 1_000_000  # samples per epoch or evaluation in the Brian2 phase
MAX_TASKS = 1_000  # permuted tasks
MIN_MS = 1e-6  # times in ms (time constants, dt): a nanosecond; smaller ones underflow in seconds
MAX_LR = 1.0  # Adam's learning rate: each step moves a weight by about lr (float32 overflows past 3e38)
MAX_THREADS = 4_096  # OpenMP threads of one cpp_standalone run
MAX_REPLICAS = 4_096  # runs simulated together as replicas of one Brian2 network

PositiveInt = Annotated[int, Field(gt=0)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description=f"a random seed in [0, {MAX_SEED}]")]
Milliseconds = Annotated[float, Field(ge=MIN_MS, description=f"a time in ms, at least {MIN_MS} (a nanosecond)")]


class StudyError(ValueError):
    """An invalid study file; ``field`` is the dotted name of the offending field."""

    def __init__(self, field: str, message: str, source: str | Path | None = None) -> None:
        self.field, self.detail, self.source = field, message, source
        where = f"{source}: " if source is not None else ""
        super().__init__(f"{where}field `{field}`: {message}")


class _Model(BaseModel):
    # strict: no conversion of "4" to 4, true to 1 or 32.0 to 32 (an int is still a valid float);
    # allow_inf_nan=False: NaN and infinities are rejected (JSON would turn them into null)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatasetSpec(_Model):
    """``digits`` / ``mnist1d`` (offline, `dassdp.runs.datasets`) or ``npz``: a local file with
    arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``. ``seed`` fixes the train/test split.

    ``validation_fraction > 0`` holds out that fraction of the *training* data (stratified by
    class, drawn with ``seed``) and evaluates on it instead of the test data, which is then never
    read: only calibration runs use it (`CalibrationSpec` sets it; a study file may not).
    ``seed`` lies in ``[0, 2**32 - 1]``."""

    name: Literal["digits", "mnist1d", "npz"] = "digits"
    path: str | None = None
    seed: Seed = 0
    validation_fraction: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0

    @model_validator(mode="after")
    def _path(self) -> DatasetSpec:
        if self.name == "npz":
            if self.path is None:
                raise ValueError("dataset 'npz' needs `path` (a .npz file with x_train, y_train, x_test, y_test)")
            try:
                is_file = Path(self.path).is_file()
            except (OSError, ValueError) as err:  # a name too long, a NUL byte
                raise ValueError(f"path {self.path!r} is not a usable file name ({err})") from None
            if not is_file:
                raise ValueError(f"path {self.path!r} is not a file")
        elif self.path is not None:
            raise ValueError(f"`path` is only used with name = 'npz', not {self.name!r}")
        return self


class TaskSpec(_Model):
    """How tasks are formed: ``classes`` (a table task -> class list) or ``permuted``
    (``n_tasks`` fixed random input permutations drawn with ``seed``; the first is the identity
    when ``identity_first``). ``scenario = "task"`` masks the logits to the task's classes during
    training and evaluation (task-incremental); ``"class"`` uses all logits (class-incremental).
    ``n_tasks`` lies in ``[1, MAX_TASKS]`` (1000), ``seed`` in ``[0, 2**32 - 1]``."""

    kind: Literal["classes", "permuted"] = "classes"
    classes: dict[str, Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]] | None = None
    n_tasks: (
        Annotated[int, Field(gt=0, le=MAX_TASKS, description=f"number of permuted tasks, 1..{MAX_TASKS}")] | None
    ) = None
    seed: Seed = 0
    identity_first: bool = True
    scenario: Literal["task", "class"] = "task"

    @model_validator(mode="after")
    def _kind(self) -> TaskSpec:
        if self.kind == "classes":
            if not self.classes:
                raise ValueError("kind 'classes' needs a `classes` table (task name -> list of class labels)")
            if self.n_tasks is not None:
                raise ValueError("`n_tasks` is only used with kind 'permuted'")
            for name, labels in self.classes.items():
                if len(set(labels)) != len(labels):
                    raise ValueError(f"task {name!r} lists a class twice: {labels}")
        else:
            if self.classes is not None:
                raise ValueError("`classes` is only used with kind 'classes'")
            if self.n_tasks is None:
                raise ValueError("kind 'permuted' needs `n_tasks`")
        return self

    @property
    def names(self) -> list[str]:
        if self.kind == "classes":
            return list(self.classes)
        return [f"P{k}" for k in range(self.n_tasks)]


class Block(_Model):
    """One training block: ``epochs`` epochs (1 to `MAX_EPOCHS`, 1000) on ``task``."""

    task: str
    epochs: Annotated[int, Field(gt=0, le=MAX_EPOCHS, description=f"epochs of the block, 1..{MAX_EPOCHS}")] = 1


class NetworkSpec(_Model):
    """`dassdp.models.snn.SpikingMLP` ``[n_in, *hidden] -> n_classes``; LIF ``beta``,
    ``threshold``; ``n_steps`` steps per sample; ``encoding`` from `dassdp.models.encoders`.
    At most `MAX_LAYERS` (32) hidden layers of 1 to `MAX_WIDTH` (65536) neurons; ``n_steps`` from
    1 to `MAX_STEPS` (10000)."""

    hidden: Annotated[
        list[Annotated[int, Field(gt=0, le=MAX_WIDTH, description=f"hidden layer width, 1..{MAX_WIDTH}")]],
        Field(max_length=MAX_LAYERS),
    ] = [64, 64]
    n_steps: Annotated[int, Field(gt=0, le=MAX_STEPS, description=f"time steps per sample, 1..{MAX_STEPS}")] = 8
    encoding: Literal["direct", "rate", "latency"] = "direct"
    beta: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    threshold: Annotated[float, Field(gt=0.0)] = 1.0

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("needs at least one hidden width")
        return value


class TrainingSpec(_Model):
    """Adam with learning rate ``lr`` in ``(0, MAX_LR]`` (1: Adam moves each weight by about
    ``lr`` per step); mini-batches of ``batch_size`` drawn in a seeded order (batch sizes from 1 to
    `MAX_BATCH`, a million)."""

    lr: Annotated[float, Field(gt=0.0, le=MAX_LR, description=f"Adam's learning rate, in (0, {MAX_LR}]")] = 2e-3
    batch_size: Annotated[int, Field(gt=0, le=MAX_BATCH, description=f"samples per batch, 1..{MAX_BATCH}")] = 32
    eval_batch_size: Annotated[int, Field(gt=0, le=MAX_BATCH, description=f"samples per batch, 1..{MAX_BATCH}")] = 512


class DASSDPConstants(_Model):
    """The constants of DA-SSDP, defaulting to `dassdp.rules.reference.DASSDPParams`'s (the
    published ones): ``sigma`` in time steps (at most `MAX_STEPS`: a wider kernel is flat over any
    sample), ``gate`` for the variant ``dassdp`` (``ssdp`` has it off), ``gate_fit`` published or
    this project's detrended fit."""

    a_plus: Annotated[float, Field(ge=0.0)] = DASSDPParams.a_plus
    a_base: Annotated[float, Field(ge=0.0)] = DASSDPParams.a_base
    sigma: Annotated[float, Field(gt=0.0, le=MAX_STEPS, description=f"in time steps, (0, {MAX_STEPS}]")] = (
        DASSDPParams.sigma
    )
    gate: Literal["continuous", "sign"] = DASSDPParams.gate
    gate_fit: Literal["published", "detrended"] = DASSDPParams.gate_fit
    clip: Annotated[float, Field(gt=0.0)] = DASSDPParams.clip
    latency: Literal["first", "last"] = DASSDPParams.latency

    def params(self, variant: str, scale: float = 1.0, **bounds: float) -> DASSDPParams:
        """The variant's `DASSDPParams` (``ssdp``: gate off), amplitudes times ``scale``."""
        return DASSDPParams(
            sigma=self.sigma,
            a_plus=scale * self.a_plus,
            a_base=scale * self.a_base,
            clip=self.clip,
            latency=self.latency,
            gate="off" if variant == "ssdp" else self.gate,
            gate_fit=self.gate_fit,
            **bounds,
        )


class PlasticitySpec(DASSDPConstants):
    """DA-SSDP (`dassdp.rules.plugin.DASSDPPlugin`) on one spiking layer; the variants ``ssdp`` and
    ``dassdp`` use it with the gate ``off`` and ``gate``. Warm-up is counted in epochs over the
    whole sequence. ``layer`` defaults to the last hidden LIF layer."""

    layer: str | None = None
    warmup_epochs: Annotated[int, Field(ge=1)] = 1


class STDPSpec(_Model):
    """Pair-based STDP in the Brian2 phase (`dassdp.rules.reference.STDPParams`; times in ms;
    ``same_step``: how a pre and a post spike in the same step count). The defaults are a
    Hebbian window: its potentiation integral ``A_plus tau_plus`` is twice the depression
    integral, so that pre and post activity that co-occur within a window potentiate (with a
    balanced window, rate-coded co-activity cancels and only spike timing is learnt)."""

    a_plus: Annotated[float, Field(ge=0.0)] = 1.5e-3
    a_minus: Annotated[float, Field(le=0.0)] = -0.75e-3
    tau_plus_ms: Milliseconds = 2.0
    tau_minus_ms: Milliseconds = 2.0
    same_step: Literal["balanced", "causal"] = "balanced"


class DASTDPSpec(STDPSpec):
    """Three-factor DA-STDP (`dassdp.rules.reference.DASTDPParams`; times in ms): eligibility
    decays with ``tau_c_ms``, dopamine with ``tau_n_ms``, baseline ``b``. The dopamine is a tonic
    level plus the reward prediction error of each training window
    (`dassdp.rules.brian2.reward.reward_prediction_error`, running average with ``rpe_rate``);
    ``tonic`` is the tonic level in units of prediction error per window (``DA_tonic = tonic /
    T_win``: one window of tonic dopamine weighs as much as a unit prediction error). The defaults
    fit one sample per window: the eligibility lasts about one window (``tau_c_ms = 8``, the demo's
    window) and the phasic dopamine acts in the first steps of the next, before that window's own
    pairs dominate the eligibility."""

    tau_c_ms: Milliseconds = 8.0
    tau_n_ms: Milliseconds = 2.0
    b: float = 0.0
    rpe_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    tonic: Annotated[float, Field(ge=0.0)] = 1.0


class DASSDPSpec(DASSDPConstants):
    """DA-SSDP (and SSDP) in the Brian2 phase: the constants, ``sigma`` in steps of ``dt_ms``,
    ``warmup`` in training windows, and the task loss L its gate is fitted on: ``"readout"`` (the
    cross-entropy of the label neurons' own logits over the classes the window is scored on, as the
    surrogate-gradient network computes its loss; `dassdp.rules.brian2.losses.ReadoutLoss`) or
    ``"spike_count"`` (the cross-entropy of the label neurons' spike counts, teacher-driven spikes
    included: with a teacher it barely varies)."""

    warmup: Annotated[int, Field(ge=2)] = 50
    loss: Literal["readout", "spike_count"] = "readout"


class Brian2Spec(_Model):
    """The Brian2 phase (``phase = "brian2"``), see `dassdp.runs.brian2_phase`.

    The network is surrogate-trained in PyTorch on ``pretrain`` (task names; default: the first
    block's task) for ``pretrain_epochs``, converted exactly to Brian2 with integrate-and-fire label
    neurons as readout (threshold: ``readout_spikes`` spikes of the correct label per window on
    average), and the task sequence then runs in Brian2 on ``target`` with the variant's rule on the
    readout projection. Each block presents ``train_samples`` training samples per epoch; every
    evaluation uses ``eval_samples`` test samples per task, with plasticity off.

    ``signal`` says where the task signal comes from: ``teacher`` (a current of ``teacher`` thresholds
    per step into the correct label neuron during training windows; DA-STDP gets, in addition, the
    reward-prediction-error dopamine of each window's outcome) or ``reward`` (the dopamine only,
    for DA-STDP).

    The learning circuit of the label neurons, the same for every variant:

    - ``head``: ``"masked"`` pretrains with the logits masked to the pretraining tasks' classes and
      sets the readout rows and biases of the other classes to 0, so that the label neurons of a
      new task start neither suppressed nor favoured; ``"full"`` keeps the pretrained readout as it
      is (class-incremental pretraining pushes the unseen classes' label neurons down; in the
      task-incremental scenario the logits are masked to each task anyway, so "full" only keeps
      the unseen rows' initial random weights);
    - ``w_bound``: every variant's readout weights are kept in ``[-w_bound, w_bound]`` (default:
      twice the largest initial absolute weight; a bound below that weight is an error, since it
      would clip the plastic variants at their first update but never ``none``);
    - ``inhibition``: lateral inhibition among label neurons in training windows
      (`dassdp.models.competition.lateral_inhibition`, in thresholds per spike; 0: none);
    - ``normalization``: ``"subtractive"`` or ``"divisive"`` normalisation of each label neuron's
      weights after every training window (`dassdp.rules.brian2.normalization`), with set points
      from the initial weights (`dassdp.rules.reference.row_set_points`); ``"none"``.

    ``rate_scale`` multiplies the learning rate of the plastic variants (STDP's and DA-STDP's
    ``a_plus``/``a_minus``, SSDP's and DA-SSDP's ``a_plus``/``a_base``); calibration sets it per
    variant.

    ``threads``: the OpenMP threads of one run on ``cpp_standalone`` (an integer in
    ``[1, MAX_THREADS]``, or ``"auto"``, the default: the cores a run's process may use, as
    ``os.sched_getaffinity`` counts them, divided by the number of runs that execute at once on
    its host, i.e. ``--workers`` (at most the pending runs) or, on Dask, the worker threads of the
    busiest host; at least 1; see `dassdp.models.targets.default_threads`). 1 compiles serial
    code. The count is compiled into the project (compiled projects are kept per count). Results
    do not depend on it: the phase draws every random number outside Brian2 (each OpenMP thread
    has a random generator of its own), and Brian2's OpenMP code runs the synaptic code that
    writes to neurons and the summed variables on one thread, in the serial order
    (``tests/models/test_openmp.py`` finds bit-identical spikes, potentials, weights and gate
    with 1 and 2 threads). It is therefore left out of the run ids and the study hash: a study
    may be resumed with another count. ``numpy`` and ``cython`` run on one thread and
    ``cuda_standalone`` on the GPU; they ignore it.

    ``replicas``: how many runs execute together, as replicas of one Brian2 network in one
    simulation (an integer in ``[1, MAX_REPLICAS]``, or ``"auto"``, the default). Runs may share
    a simulation when they have the same variant and their resolved studies differ only in the
    seed and in ``rate_scale`` (the study's seeds, calibration's grid values, a sweep over
    ``brian2.rate_scale``) and in execution settings such as this one; the runner
    (`dassdp.runs.runner`) splits each such group of pending runs, in the study's order, into
    batches of at most ``replicas`` runs whose sizes differ by at most one (8 runs with
    ``replicas = 3`` execute as 3, 3 and 2). ``"auto"``: on ``numpy`` and ``cython`` each group
    is split evenly over the runs that execute at once (``--workers`` or, on Dask, the worker
    threads of the whole cluster), ``ceil(group size / workers)`` runs per batch, at most 16; on
    ``cpp_standalone`` and ``cuda_standalone``, which compile a project per simulation, a group
    runs as one batch of at most 64 and 1024 runs (`dassdp.runs.runner.AUTO_REPLICAS`), with the
    free cores as OpenMP threads (``threads``); on every target, the batches running at once must
    fit into the host's available memory, on Dask each into the smallest worker memory limit per
    thread (`dassdp.runs.runner.replica_bytes` per replica, a generous estimate). ``1``
    simulates every run on its own. Each run's manifest records the runs it executed with
    (``batch``, ``replicas``). A replica draws its
    random numbers from its own run's seed and reads nothing of the other replicas, so a run's
    tables are the same in a batch as alone: like ``threads`` the value is left out of the run
    ids and the study hash (a study may be resumed with another value) and cannot be swept. The
    PyTorch phase ignores it (one run per process).

    ``pretrain_epochs`` lies in ``[0, MAX_EPOCHS]`` (1000), ``train_samples`` and ``eval_samples``
    in ``[1, MAX_SAMPLES]`` (a million), ``readout_spikes`` in ``[0.001, MAX_STEPS]`` (a label
    neuron spikes at most once per step; fewer would make the threshold overflow), and every time
    in ms (``dt_ms``, the STDP and DA-STDP time constants) is at least `MIN_MS` (a nanosecond).
    """

    target: Literal["numpy", "cython", "cpp_standalone", "cuda_standalone"] = "numpy"
    threads: Annotated[int, Field(ge=1, le=MAX_THREADS, description=f"1..{MAX_THREADS}")] | Literal["auto"] = "auto"
    replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS, description=f"1..{MAX_REPLICAS}")] | Literal["auto"] = "auto"
    dt_ms: Milliseconds = 1.0
    pretrain: list[str] | None = None
    pretrain_epochs: Annotated[int, Field(ge=0, le=MAX_EPOCHS, description=f"0..{MAX_EPOCHS}")] = 5
    train_samples: Annotated[int, Field(gt=0, le=MAX_SAMPLES, description=f"1..{MAX_SAMPLES}")] = 100
    eval_samples: Annotated[int, Field(gt=0, le=MAX_SAMPLES, description=f"1..{MAX_SAMPLES}")] = 100
    readout_spikes: Annotated[
        float, Field(ge=1e-3, le=MAX_STEPS, description=f"label spikes per window, [0.001, {MAX_STEPS}]")
    ] = 3.0
    signal: Literal["teacher", "reward"] = "teacher"
    teacher: Annotated[float, Field(ge=0.0)] = 0.5
    head: Literal["masked", "full"] = "masked"
    w_bound: Annotated[float, Field(gt=0.0)] | None = None
    inhibition: Annotated[float, Field(ge=0.0)] = 0.0
    normalization: Literal["none", "subtractive", "divisive"] = "none"
    rate_scale: Annotated[float, Field(gt=0.0)] = 1.0
    stdp: STDPSpec = STDPSpec()
    dastdp: DASTDPSpec = DASTDPSpec()
    dassdp: DASSDPSpec = DASSDPSpec()

    @field_validator("threads", "replicas", mode="before")
    @classmethod
    def _count_or_auto(cls, value: Any, info: ValidationInfo) -> Any:
        # one clear message instead of one error per member of the union (True is not 1)
        largest, what = {"threads": (MAX_THREADS, ""), "replicas": (MAX_REPLICAS, " (runs per simulation)")}[
            info.field_name
        ]
        if value == "auto" or (type(value) is int and 1 <= value <= largest):
            return value
        raise ValueError(f'must be an integer in [1, {largest}]{what} or "auto"')


class CalibrationSpec(_Model):
    """Per-variant learning-rate calibration before the study (Brian2 phase).

    For every plastic variant, every value of ``grid`` (for ``brian2.rate_scale``) and every
    calibration seed, the study's sequence runs with ``dataset.validation_fraction`` of the
    training data held out and evaluated on; the test data is never read. A variant's chosen scale
    is the grid value with the highest mean ``criterion`` over the calibration seeds (the first
    such value in grid order on a tie); the study then runs with it. ``criterion`` is a
    continual-learning metric of `dassdp.runs.runner.metrics_table` where higher is better.
    """

    grid: list[Annotated[float, Field(gt=0.0)]] = Field(min_length=2)
    seeds: list[Seed] = Field(default=[1000], min_length=1)
    validation_fraction: Annotated[float, Field(gt=0.0, le=0.5)] = 0.2
    criterion: Literal["ACC", "final_ACC", "learning_accuracy"] = "ACC"

    @field_validator("grid", "seeds")
    @classmethod
    def _unique(cls, value: list) -> list:
        _check_unique(value)
        return value


def _check_unique(value: list) -> None:
    """Entries listed twice are an error (the message leaves the list to `_first_error`)."""
    seen: list = []
    for item in value:
        if item in seen:
            raise ValueError(f"entries must be unique; {item!r} is listed twice")
        seen.append(item)


class Study(_Model):
    """A whole study file (see the module docstring). ``seeds`` lie in ``[0, 2**32 - 1]``."""

    name: str = "study"
    description: str = ""
    phase: Literal["torch", "brian2"] = "torch"
    dataset: DatasetSpec = DatasetSpec()
    tasks: TaskSpec
    sequence: list[Block | str] = Field(min_length=1)
    network: NetworkSpec = NetworkSpec()
    training: TrainingSpec = TrainingSpec()
    plasticity: PlasticitySpec = PlasticitySpec()
    brian2: Brian2Spec = Brian2Spec()
    variants: list[Literal["frozen", "none", "stdp", "dastdp", "ssdp", "dassdp"]] = ["none", "ssdp", "dassdp"]
    seeds: list[Seed] = Field(default=[0], min_length=1)
    device: str = "cpu"
    sweep: dict[str, list[Any]] = {}
    reference: str | None = None
    calibration: CalibrationSpec | None = None

    @model_validator(mode="after")
    def _reference(self) -> Study:
        """The reference variant defaults to ``none`` if the study has it, else its first variant."""
        if self.reference is None:
            object.__setattr__(self, "reference", "none" if "none" in self.variants else self.variants[0])
        return self

    @field_validator("sweep")
    @classmethod
    def _sweep_order(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Grid points in the order of the sorted parameter names, whatever the file's order: a
        results directory records the study with sorted keys, and a resumed study must number
        its points as the first run did."""
        return dict(sorted(value.items()))

    @field_validator("sequence")
    @classmethod
    def _blocks(cls, value: list[Block | str]) -> list[Block]:
        return [Block(task=b) if isinstance(b, str) else b for b in value]

    @field_validator("variants", "seeds")
    @classmethod
    def _unique(cls, value: list) -> list:
        _check_unique(value)
        if not value:
            raise ValueError("needs at least one entry")
        return value

    @property
    def blocks(self) -> list[Block]:
        return list(self.sequence)  # type: ignore[arg-type]

    @property
    def plastic_layer(self) -> str:
        return self.plasticity.layer or f"lif.{len(self.network.hidden) - 1}"


class RunSpec(_Model):
    """One run: the resolved study (sweep applied, no variants/seeds/sweep lists), a variant and
    a seed. ``run_id`` is ``<variant>-s<seed>-<hash>`` with the hash of everything that
    determines the run's numbers (not `EXECUTION_FIELDS`)."""

    study: dict[str, Any]
    variant: str
    seed: int

    @property
    def run_id(self) -> str:
        body = self.model_dump()
        body["study"] = without_execution(body["study"])
        digest = hashlib.sha256(canonical_json(body).encode()).hexdigest()[:12]
        return f"{self.variant}-s{self.seed}-{digest}"

    def resolved(self) -> Study:
        return Study.model_validate(self.study)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def study_hash(study: Study) -> str:
    body = without_execution(study.model_dump(mode="json"))
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()[:16]


#: fields that say how a run executes, not what it computes: left out of run ids and the study
#: hash, so that a study resumed with other values keeps its runs (``brian2.threads`` and
#: ``brian2.replicas``: the results are identical for every thread count and batch size, see
#: `Brian2Spec`); a sweep over one of them is refused (its points would give the same runs)
EXECUTION_FIELDS = (("brian2", "threads"), ("brian2", "replicas"))


def without_execution(body: dict[str, Any]) -> dict[str, Any]:
    """A study's dump (``model_dump``) without `EXECUTION_FIELDS` (a copy; ``body`` is unchanged)."""
    body = dict(body)
    for section, key in EXECUTION_FIELDS:
        if isinstance(body.get(section), dict):
            body[section] = {k: v for k, v in body[section].items() if k != key}
    return body


#: fields in which the runs of one batch may differ (besides the seed and `EXECUTION_FIELDS`):
#: values the Brian2 phase gives each replica of a simulation (`dassdp.runs.brian2_phase`)
BATCH_FIELDS = (("brian2", "rate_scale"),)


def batch_key(spec: RunSpec) -> str | None:
    """Brian2-phase runs with equal keys may run as replicas of one simulation: the same variant
    and resolved study, except for the seed (not in the study), `BATCH_FIELDS` and
    `EXECUTION_FIELDS`. None for the PyTorch phase (every run on its own)."""
    body = without_execution(spec.study)
    if body.get("phase") != "brian2":
        return None
    for section, key in BATCH_FIELDS:
        body[section] = {k: v for k, v in body[section].items() if k != key}
    return canonical_json({"variant": spec.variant, "study": body})


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------


def _dotted(loc: tuple) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and (p in ("Block", "str") or "[" in p))]
    return ".".join(parts) or "(study)"


def _first_error(err: ValidationError, prefix: str = "") -> tuple[str, str]:
    errors = err.errors(include_url=False)
    # a `sequence` entry fails both union members; the Block error is the helpful one
    error = next((e for e in errors if "Block" in map(str, e["loc"])), errors[0])
    message = error["msg"].removeprefix("Value error, ")
    if (
        error["type"] not in ("missing", "extra_forbidden")
        and "input" in error
        and not isinstance(error["input"], dict)
    ):
        message += f" (got {error['input']!r})"
    if error["type"] == "extra_forbidden":
        message = "unknown field (not part of the study schema)"
        loc = [p for p in error["loc"] if isinstance(p, str)]
        if len(loc) == 2 and loc[0] in Study.model_fields and loc[1] in Study.model_fields:
            message += (
                f"; `{loc[1]}` is a top-level field: in TOML every key after a [table] header belongs to "
                "that table, so write top-level keys above the first header"
            )
    elif error["loc"] == ("sequence",) and isinstance(error.get("input"), dict):
        message += "; write each block as [[sequence]] (two brackets) or give sequence = [...]"
    # the other member of a `sequence` entry's union (`str`) failing too is not another error
    blocks = {e["loc"][:2] for e in errors if "Block" in map(str, e["loc"])}
    others = [e for e in errors if e is not error and not (e["loc"][:2] in blocks and "str" in map(str, e["loc"]))]
    more = f"; {len(others)} more error(s)" if others and error["type"] != "union_tag_invalid" else ""
    return prefix + _dotted(error["loc"]), message + more


def _check_semantics(study: Study) -> None:
    """Cross-field checks: tasks against the data set, sequence against tasks, layer, device."""
    tasks = study.tasks
    n_classes = _n_classes(study.dataset)
    if tasks.kind == "classes":
        for name, labels in tasks.classes.items():
            missing = sorted(c for c in labels if c >= n_classes)
            if missing:
                raise StudyError(
                    f"tasks.classes.{name}",
                    f"classes {missing} do not exist in data set {study.dataset.name!r} (labels 0..{n_classes - 1})",
                )
    for k, block in enumerate(study.blocks):
        if block.task not in tasks.names:
            raise StudyError(f"sequence.{k}.task", f"unknown task {block.task!r}; tasks are {tasks.names}")
    layers = [f"lif.{k}" for k in range(len(study.network.hidden))]
    if study.plastic_layer not in layers:
        raise StudyError("plasticity.layer", f"{study.plastic_layer!r} is not a spiking layer; choose one of {layers}")
    plastic = {"ssdp", "dassdp"} & set(study.variants)
    if study.phase == "torch" and plastic and study.plastic_layer == "lif.0" and study.network.encoding == "direct":
        raise StudyError(
            "plasticity.layer",
            f"'lif.0' is fed by real-valued (direct-encoded) input, but DA-SSDP (variants {sorted(plastic)}) needs "
            "spikes on both sides; use two hidden layers (network.hidden) or encoding 'rate'/'latency'",
        )
    _check_device(study.device)
    allowed = PHASE_VARIANTS[study.phase]
    for k, variant in enumerate(study.variants):
        if variant not in allowed:
            raise StudyError(
                f"variants.{k}", f"{variant!r} is not a variant of phase {study.phase!r}; choose from {list(allowed)}"
            )
    if study.reference not in study.variants:
        raise StudyError("reference", f"{study.reference!r} is not one of the variants {study.variants}")
    if study.dataset.validation_fraction > 0:
        raise StudyError(
            "dataset.validation_fraction",
            "is set by [calibration] for its runs only; a study "
            "evaluates on the test data (give [calibration] validation_fraction instead)",
        )
    if study.calibration is not None:
        criterion, passes = study.calibration.criterion, first_pass(study)
        if criterion == "final_ACC" and len(passes) == len(study.blocks):
            raise StudyError(
                "calibration.criterion",
                "'final_ACC' needs a sequence that returns to a task; use 'ACC' or 'learning_accuracy'",
            )
        if len(passes) < 2:
            raise StudyError("calibration.criterion", f"{criterion!r} needs at least two tasks in the sequence")
        if study.phase != "brian2":
            raise StudyError("calibration", "calibration picks brian2.rate_scale: it needs phase = 'brian2'")
        if not set(PLASTIC_VARIANTS) & set(study.variants):
            raise StudyError("calibration", f"none of the variants {study.variants} has a learning rate to calibrate")
        if study.sweep:
            raise StudyError(
                "sweep", "a study with [calibration] cannot also sweep: calibrate each setting in its own study"
            )
    if study.phase == "brian2":
        _check_brian2(study)
    for name, values in study.sweep.items():
        if not values:
            raise StudyError(f"sweep.{name}", "lists no values")


def _check_brian2(study: Study) -> None:
    spec = study.brian2
    for k, task in enumerate(spec.pretrain or []):
        if task not in study.tasks.names:
            raise StudyError(f"brian2.pretrain.{k}", f"unknown task {task!r}; tasks are {study.tasks.names}")
    if spec.signal == "reward":
        deaf = [v for v in study.variants if v in TEACHER_VARIANTS]
        if deaf:
            raise StudyError(
                "brian2.signal",
                f"'reward' drives only dopamine-modulated STDP (dastdp); variants {deaf} "
                "learn from the teacher current: use signal 'teacher'",
            )
    if spec.signal != "reward" and spec.teacher == 0:
        raise StudyError("brian2.teacher", "the teacher current is 0, so signal 'teacher' carries no task signal")
    windows = sum(block.epochs for block in study.blocks) * spec.train_samples
    if "dassdp" in study.variants and spec.dassdp.warmup >= windows:
        raise StudyError(
            "brian2.dassdp.warmup",
            f"{spec.dassdp.warmup} windows leave no learning in the {windows} training windows of the sequence",
        )
    from dassdp.runs.doctor import target_problem

    problem = target_problem(spec.target)
    if problem:
        raise StudyError("brian2.target", f"{spec.target!r} is not available here: {problem}")


def _n_classes(dataset: DatasetSpec) -> int:
    if dataset.name in BUILTIN_CLASSES:
        return BUILTIN_CLASSES[dataset.name]
    import zipfile

    import numpy as np

    if not zipfile.is_zipfile(dataset.path):  # np.load would call any other file "pickled data"
        raise StudyError("dataset.path", f"{dataset.path!r} is not an .npz archive (np.savez writes one)")
    try:
        with np.load(dataset.path) as data:
            labels = [np.asarray(data[key]) for key in ("y_train", "y_test")]
            for key in ("x_train", "x_test"):
                data[key]
    except KeyError as err:
        raise StudyError("dataset.path", f"{dataset.path!r} lacks array {err.args[0]}") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file is a bad path
        raise StudyError("dataset.path", f"cannot read {dataset.path!r} as .npz: {err}") from None
    return int(max(int(y.max()) for y in labels)) + 1


def _check_device(device: str) -> None:
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise StudyError("device", f"{device!r} is not a torch device (expected 'cpu', 'cuda' or 'cuda:N')") from None
    if parsed.type == "cpu":
        return
    if parsed.type != "cuda":
        raise StudyError("device", f"{device!r}: only 'cpu' and 'cuda[:N]' are supported")
    if not torch.cuda.is_available():
        raise StudyError("device", f"{device!r} is not available here (torch.cuda.is_available() is False)")
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise StudyError("device", f"{device!r} is not available: {torch.cuda.device_count()} CUDA device(s) here")


def _check_sweep_keys(data: dict[str, Any], source: str | Path | None) -> None:
    """An unquoted dotted sweep key (``training.lr = [...]``) is a nested table in TOML."""
    sweep = data.get("sweep") if isinstance(data, dict) else None
    if not isinstance(sweep, dict):
        return
    for key, value in sweep.items():
        if isinstance(value, dict) and "." not in key:
            path, node = [key], value
            while isinstance(node, dict) and len(node) == 1:
                ((name, node),) = node.items()
                path.append(name)
            if not isinstance(node, (dict, list)):
                continue  # not a table of lists: the schema reports it
            dotted = ".".join(path) if isinstance(node, list) else f"{key}.<name>"
            raise StudyError(
                f"sweep.{'.'.join(path)}",
                f'a sweep maps a dotted parameter name to a list of values: quote the name, "{dotted}" = [...] '
                f"(unquoted, TOML reads {key}.<name> as a table {key!r}, not as one name)",
                source,
            )


def _plain_scalars(value: Any) -> Any:
    """``value`` with numpy scalars as Python ones (a dict built in Python may hold ``np.int64``
    seeds; strict validation would refuse them, TOML never gives them)."""
    import numpy as np

    if isinstance(value, dict):
        return {k: _plain_scalars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_scalars(v) for v in value]
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    return value


def parse_study(data: dict[str, Any], source: str | Path | None = None) -> Study:
    """Validate a study dict (the parsed TOML, or one built in Python: numpy scalars are taken as
    Python numbers); `StudyError` names the first bad field."""
    data = _plain_scalars(data)
    _check_sweep_keys(data, source)
    try:
        study = Study.model_validate(data)
    except ValidationError as err:
        raise StudyError(*_first_error(err), source=source) from None
    try:
        _check_semantics(study)
        _check_distinct_points(study, [_apply(study, point, source) for point in _grid(study)])
    except StudyError as err:
        raise StudyError(err.field, err.detail, source) from None
    return study


def _check_distinct_points(study: Study, resolved: list[Study]) -> None:
    """Every grid point of the sweep must give different runs: two points with the same resolved
    study (a value listed twice, ``1`` and ``1.0``, or a parameter that no run reads such as
    ``description``, or an execution setting such as ``brian2.threads`` or ``brian2.replicas``)
    would give runs of the same id, which the results cannot hold twice."""
    names = list(study.sweep)
    indices = list(itertools.product(*(range(len(study.sweep[n])) for n in names)))
    seen: dict[str, int] = {}
    for k, point in enumerate(resolved):
        key = canonical_json(without_execution(_run_body(point)))  # as the run ids see it
        if key not in seen:
            seen[key] = k
            continue
        first, again = indices[seen[key]], indices[k]
        name = next(n for n, i, j in zip(names, first, again) if i != j)
        a, b = study.sweep[name][first[names.index(name)]], study.sweep[name][again[names.index(name)]]
        why = (
            f"{a!r} is listed twice"
            if a == b
            else f"{a!r} and {b!r} give the same runs (the runs do not depend on this value)"
        )
        raise StudyError(f"sweep.{name}", f"{why}; every grid point must give different runs")


def load_study(path: str | Path) -> tuple[Study, str]:
    """Read and validate a TOML study file; returns the study and the file's text."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise StudyError("(file)", f"cannot read the study file: {err.strerror}", source=path) from None
    try:
        text = raw.decode("utf-8-sig")  # TOML is UTF-8; a leading byte-order mark is dropped
    except UnicodeDecodeError as err:
        raise StudyError(
            "(file)",
            f"is not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}): TOML files must be "
            "UTF-8; save it as UTF-8",
            source=path,
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise StudyError("(file)", f"not valid TOML: {err}", source=path) from None
    return parse_study(data, source=path), text


# ------------------------------------------------------------------------------------------
# sweep expansion
# ------------------------------------------------------------------------------------------


def _grid(study: Study) -> list[dict[str, Any]]:
    names = list(study.sweep)
    return [dict(zip(names, values)) for values in itertools.product(*(study.sweep[n] for n in names))]


def _apply(study: Study, point: dict[str, Any], source: str | Path | None = None) -> Study:
    """The study with the grid point's dotted overrides applied, validated again."""
    data = study.model_dump(mode="json")
    for dotted, value in point.items():
        keys = dotted.split(".")
        if keys[0] in UNSWEEPABLE:
            raise StudyError(f"sweep.{dotted}", f"{keys[0]!r} cannot be swept (list its values directly)", source)
        if isinstance(value, (dict, list)):  # the results get one column of plain (groupable) values per key
            kind = "tables" if isinstance(value, dict) else "lists"
            raise StudyError(
                f"sweep.{dotted}",
                f"sweeps plain values (numbers, strings, booleans), not {kind} like {value!r}: "
                'sweep each entry on its own, e.g. "network.hidden.0" = [8, 16]',
                source,
            )
        node = data
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            if isinstance(node, list) and key.isascii() and key.isdigit() and int(key) < len(node):
                key = int(key)
            elif not isinstance(node, dict) or key not in node:
                raise StudyError(
                    f"sweep.{dotted}", f"no such parameter ({'.'.join(keys[: depth + 1])!r} does not exist)", source
                )
            if last:
                node[key] = value
            else:
                node = node[key]
                if node is None:
                    raise StudyError(f"sweep.{dotted}", "no such parameter", source)
    data["sweep"] = {}
    try:
        resolved = Study.model_validate(data)
        _check_semantics(resolved)
    except ValidationError as err:
        field, message = _first_error(err)
        raise StudyError(f"sweep.{field}", message, source) from None
    except StudyError as err:
        raise StudyError(f"sweep.{err.field}", err.detail, source) from None
    return resolved


#: study keys that do not determine a run's numbers (left out of its `RunSpec`)
_PROTOCOL_KEYS = ("name", "description", "variants", "seeds", "sweep", "reference", "calibration")


def _run_body(study: Study, **overrides: dict[str, Any]) -> dict[str, Any]:
    """The study as a run sees it: protocol keys dropped, ``overrides`` (section -> fields) set."""
    body = study.model_dump(mode="json")
    for key in _PROTOCOL_KEYS:
        body.pop(key)
    for section, fields in overrides.items():
        body[section] = {**body[section], **fields}
    return body


def expand_runs(study: Study, scales: dict[str, float] | None = None) -> list[tuple[int, dict[str, Any], RunSpec]]:
    """Every run of the study: ``(grid point index, the point's overrides, RunSpec)`` for each
    grid point x variant x seed, in a fixed order. ``scales`` (variant -> ``brian2.rate_scale``)
    are the calibrated learning-rate scales (`expand_calibration`)."""
    runs = []
    for index, point in enumerate(_grid(study)):
        resolved = _apply(study, point)
        for variant in study.variants:
            scale = (scales or {}).get(variant)
            body = _run_body(resolved, **({"brian2": {"rate_scale": scale}} if scale is not None else {}))
            for seed in study.seeds:
                runs.append((index, copy.deepcopy(point), RunSpec(study=body, variant=variant, seed=seed)))
    return runs


def first_pass(study: Study) -> list[str]:
    """The tasks of the sequence up to the first one it revisits (ACC, BWT and forgetting are
    taken over them)."""
    tasks: list[str] = []
    for block in study.blocks:
        if block.task in tasks:
            break
        tasks.append(block.task)
    return tasks


def calibrated_variants(study: Study) -> list[str]:
    """The variants whose learning rate the study's calibration chooses."""
    return [v for v in study.variants if v in PLASTIC_VARIANTS] if study.calibration is not None else []


def expand_calibration(study: Study) -> list[tuple[int, dict[str, Any], RunSpec]]:
    """The calibration runs: ``(grid index, {"brian2.rate_scale": value}, RunSpec)`` for each grid
    value x calibrated variant x calibration seed, evaluated on the validation split. A criterion
    of the first pass through the tasks (``ACC``, ``learning_accuracy``) needs only that pass, so
    the runs stop there."""
    spec = study.calibration
    if spec is None:
        return []
    runs = []
    for index, value in enumerate(spec.grid):
        body = _run_body(study, brian2={"rate_scale": value}, dataset={"validation_fraction": spec.validation_fraction})
        if spec.criterion != "final_ACC":
            body["sequence"] = body["sequence"][: len(first_pass(study))]
        for variant in calibrated_variants(study):
            for seed in spec.seeds:
                runs.append((index, {"brian2.rate_scale": value}, RunSpec(study=body, variant=variant, seed=seed)))
    return runs
