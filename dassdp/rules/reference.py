r"""NumPy reference implementations: the oracle every other expression of a rule is tested
against, and the statement of DA-SSDP that all three expressions implement.

DA-SSDP: the contract
=====================

Dopamine-modulated spike-synchrony-dependent plasticity, after Tian, Tensingh, Eshraghian, Truong
and Kavehei, "DA-SSDP", arXiv 2512.07194 (TMLR), and its published code. The reference functions
below, the Brian2 rule (`dassdp.rules.brian2.ssdp`) and the PyTorch update (`dassdp.rules.torch`,
used by `dassdp.rules.plugin`) implement exactly what follows. The reference favours clarity
over speed: it builds the dense ``B x Cout x Cin`` eligibility tensor that the other two never
build (see *Cost*).

Shapes follow PyTorch: a weight matrix, a connectivity mask and an update are
``(n_post, n_pre)``, indexed ``[j, i]`` for the synapse from pre neuron ``i`` to post neuron ``j``;
per-window activity is ``(n_windows, n_neurons)``. Latencies and ``sigma`` are in steps (PyTorch)
or seconds (Brian2, spike times).

**Windows.** A window is one sample presentation: :math:`T` discrete steps (PyTorch) or a
duration :math:`T_\text{win}`, an integer multiple of ``dt`` (Brian2). Window :math:`b` covers
:math:`[b T_\text{win}, (b + 1) T_\text{win})`, so a spike on an edge opens the next window.

**Fired flags and latencies.** For neuron :math:`n` in window (sample) :math:`b`, with
:math:`\mathcal{T}_{bn}` its spike times measured from the window start,

.. math::
    f_{bn} = [\mathcal{T}_{bn} \neq \emptyset], \qquad
    t_{bn} = \begin{cases}
        \min \mathcal{T}_{bn} & \text{latency="first" (the default)} \\
        \max \mathcal{T}_{bn} & \text{latency="last"} \\
        T \text{ (or } T_\text{win}) & f_{bn} = 0.
    \end{cases}

The published code takes ``spikes.cumsum(0).argmax(0)``: the running spike count first reaches
its maximum at the last spike, so it measures the *last* spike. ``latency="last"`` reproduces
it as a compatibility mode; the first spike is the default.

**Pair terms.** For the synapse from pre :math:`i` to post :math:`j` in sample :math:`b`,

.. math::
    \begin{align*}
        \text{sync}_{bji} &= f_{bj} f_{bi} \\
        K_{bji} &= \exp\left(-\frac{(t_{bj} - t_{bi})^2}{2 \sigma^2}\right) \\
        e_{bji} &= A_+ \, \text{sync}_{bji} K_{bji} - A_\text{base} (1 - \text{sync}_{bji}) K_{bji}
                 = K_{bji} \left((A_+ + A_\text{base}) \, \text{sync}_{bji} - A_\text{base}\right)
    \end{align*}

**Sample synchrony.** The mean of :math:`\text{sync}` over the synapses, which the connectivity
mask :math:`M_{ji} \in \{0, 1\}` marks (all pairs without a mask):

.. math::
    S_b = \frac{\sum_{j, i} M_{ji} f_{bj} f_{bi}}{\sum_{j, i} M_{ji}}
    \quad\overset{M \equiv 1}{=}\quad
    \Big(\frac{1}{N_\text{post}} \sum_j f_{bj}\Big) \Big(\frac{1}{N_\text{pre}} \sum_i f_{bi}\Big)

so :math:`S_b \in [0, 1]`; an empty mask gives NaN.

**Warm-up and gate fit.** During the first :math:`W` epochs (PyTorch) or windows (Brian2) nothing
is applied; the pairs :math:`(S_b, L_b)` are recorded, with :math:`L_b` the task loss (the batch
loss repeated per sample in the published code). At the end of warm-up the gate is fitted once,
and then fixed, with population standard deviations (``ddof=0``):

.. math::
    \begin{align*}
        \mu &= \operatorname{mean}(S), \qquad s = \operatorname{std}(S) + 10^{-8} \\
        z(x) &= \frac{x - \operatorname{mean}(x)}{\operatorname{std}(x) + 10^{-8}} \\
        k &= -\operatorname{mean}\big(z(S) \, z(L)\big)
    \end{align*}

that is, :math:`k` is minus the Pearson correlation of synchrony with loss.

**Gate.** Three modes:

.. math::
    g_b = \begin{cases}
        \operatorname{clip}\left(1 + k \, \frac{S_b - \mu}{s}, 0, 2\right)
            & \text{gate="continuous" (the published code)} \\
        \operatorname{sign}(k), \text{ and } 1 \text{ where } |k| < \text{tol}
            & \text{gate="sign" (the paper's text)} \\
        1 & \text{gate="off": SSDP, the two-factor rule}
    \end{cases}

``gate="off"`` is the paper's "harmless regulariser" ablation.

**Update.** After warm-up, for each batch of :math:`B` samples (a PyTorch batch; ``batch``
consecutive windows in Brian2):

.. math::
    \Delta W_{ji} = \operatorname{clip}\left(\frac{1}{B} \sum_b g_b \, e_{bji}, -c, c\right),
    \qquad c = 1 \text{ by default}

added to the weight after the optimizer step (PyTorch), or at the window end (Brian2), where the
dopamine variable ``DA`` carries :math:`g_b`.

**Published defaults.** :math:`A_+ = 1.5 \cdot 10^{-3}` (`A_PLUS`),
:math:`A_\text{base} = 5 \cdot 10^{-4}` (`A_BASE`, the published code; the paper's text gives
:math:`10^{-4}`, `A_BASE_PAPER`: pass ``a_base=A_BASE_PAPER`` to use it), :math:`\sigma` = 1 step,
warm-up 100 epochs (80 on CIFAR10-DVS).

**Cost.** Never build the ``B x Cout x Cin`` tensor. With integer latencies in
:math:`\{0, \dots, T\}` the kernel takes only :math:`(T + 1)^2` values: put each neuron in the bin
:math:`q = 2 t + f` (:math:`Q = 2 (T + 1)` bins), so that :math:`e_{bji} = E[q_{bj}, q_{bi}]` for a
:math:`Q \times Q` table :math:`E`, and

.. math::
    \sum_b g_b \, e_{bji} = \sum_{q = 0}^{Q - 1} \sum_b \big([q_{bj} = q] \, g_b\big) \, E[q, q_{bi}]

is a sum of :math:`Q` products of a ``(Cout x B)`` one-hot matrix by a ``(B x Cin)`` matrix.
Real-valued latencies are handled exactly by chunking over samples and post neurons. In Brian2 the
whole loop (latency tracking, window-end update, synchrony, loss, warm-up statistics, gate) runs
in generated code without ``network_operation``, so it runs unchanged on the standalone targets
(`dassdp.rules.brian2.ssdp` explains its schedule).

**Where this package differs from the published code.** The default latency is the first spike
(the published code measures the last; ``latency="last"``), and both values of
:math:`A_\text{base}` are at hand (the published code's 5e-4 is the default, the paper's 1e-4 is
`A_BASE_PAPER`). This project's extensions are off by default: bounds ``w_min``, ``w_max`` on
the weights (`DASSDPParams`), a detrended gate fit (``gate_fit="detrended"``, `fit_gate`) and a
normalisation of each post neuron's weights (`normalize_rows`).

**Where each step lives.** Brian2 code is named by its module-level code block or function, and
PyTorch code by its function.

.. list-table::
    :header-rows: 1

    * - Step
      - NumPy (this module)
      - Brian2
      - PyTorch
    * - window of a spike, latency within it
      - `window_positions`
      - `dassdp.rules.brian2.windows.track_windows` (window start ``ssdp_window_start``, reset each window)
      - one sample per window; the latency is the step index
    * - fired flags :math:`f`, first/last latencies :math:`t`
      - `window_activity` (for `activity_from_raster`, `activity_from_spike_times`)
      - `dassdp.rules.brian2.windows.track_windows` (``ssdp_fired``, ``ssdp_lat`` of
        `dassdp.rules.brian2.windows.neuron_variables`)
      - `dassdp.rules.torch.RunningActivity`, `dassdp.rules.torch.activity_from_raster`
    * - kernel :math:`K`, eligibility :math:`e`
      - `eligibility`
      - `dassdp.rules.brian2.ssdp.DASSDPSynapses._kernel` (the ``ssdp_kernel`` table) in
        `dassdp.rules.brian2.ssdp._SHARE`, `dassdp.rules.brian2.ssdp._CORRECTION` and
        `dassdp.rules.brian2.ssdp._WHOLE`
      - `dassdp.rules.torch.exact_update`, `dassdp.rules.torch.binned_update` (bins as in *Cost*)
    * - synchrony :math:`S_b`
      - `sample_synchrony`
      - summed variables ``ssdp_n_sync``, ``ssdp_n_synapses``, ``ssdp_n_pre_fired`` built by
        `dassdp.rules.brian2.ssdp.DASSDPSynapses`, then ``S`` in `dassdp.rules.brian2.ssdp._volume_code`
      - `dassdp.rules.torch.sample_synchrony`
    * - warm-up records, fit of :math:`(k, \mu, s)`
      - `fit_gate`
      - `dassdp.rules.brian2.ssdp._volume_code` (running Welford sums)
      - `fit_gate` itself, on the plug-in's records (`dassdp.rules.plugin.DASSDPPlugin.end_epoch`)
    * - gate :math:`g_b`
      - `gate_values`
      - `dassdp.rules.brian2.ssdp._GATE`, evaluated in `dassdp.rules.brian2.ssdp._volume_code`
      - `dassdp.rules.torch.gate_values`, `dassdp.rules.torch.gate_line`
    * - clipped batch update :math:`\Delta W`
      - `weight_update`; over consecutive windows `simulate_dassdp`
      - `dassdp.rules.brian2.ssdp._SHARE` with `dassdp.rules.brian2.ssdp._CORRECTION` (batches
        of one window), `dassdp.rules.brian2.ssdp._WHOLE` (larger batches, weight bounds or a
        normalisation)
      - `dassdp.rules.torch.dassdp_update`, `dassdp.rules.torch.kernel_window`
    * - parameters
      - `DASSDPParams`; the window settings (warm-up, batch) by `check_windows`
      - ``params`` of `dassdp.rules.brian2.ssdp.DASSDPSynapses` (``sigma`` in steps of ``dt``)
      - `DASSDPParams`, passed to `dassdp.rules.plugin.DASSDPPlugin`

The other rules of this module (pair-based STDP, DA-STDP) state their equations in their own
docstrings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dassdp.checks import check_choice, check_positive

LatencyMode = Literal["first", "last"]
SameStep = Literal["balanced", "causal"]
GateMode = Literal["continuous", "sign", "off"]
GateFit = Literal["published", "detrended"]

#: Published defaults (code release of arXiv 2512.07194).
A_PLUS = 1.5e-3
A_BASE = 5e-4
#: A_base as given in the paper's text.
A_BASE_PAPER = 1e-4
#: Added to the standard deviations of the gate fit, as in the published code.
STD_EPS = 1e-8


# --------------------------------------------------------------------------------------------
# Window activity: fired flags and latencies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowActivity:
    """Per-window activity of a population.

    ``fired[w, n]`` is 1 if neuron n spiked at least once in window w; ``latency[w, n]`` is the
    time of its first (or last) spike measured from the window start, or ``duration`` (T or T_win)
    if it did not spike.
    """

    fired: np.ndarray
    latency: np.ndarray
    duration: float

    def __post_init__(self) -> None:
        if self.fired.shape != self.latency.shape or self.fired.ndim != 2:
            raise ValueError(f"fired {self.fired.shape} and latency {self.latency.shape} must be equal 2-d shapes")

    def select(self, windows: np.ndarray) -> WindowActivity:
        """The activity of the windows selected by ``windows`` (a boolean mask or indices)."""
        return WindowActivity(self.fired[windows], self.latency[windows], self.duration)


def window_positions(times: np.ndarray, window: float, dt: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Window index ``floor(t / window)`` and latency ``t - index * window`` of every spike time.

    Windows are half-open, ``[w * window, (w + 1) * window)``: a spike exactly on a window edge
    belongs to the window it opens (latency 0). With ``dt`` given, times are taken on the
    simulation grid, ``step = rint(t / dt)``, window ``step // (window / dt)`` and latency
    ``(step mod (window / dt)) * dt``, which is exact where a float division of times is not
    (0.15 s with 0.05 s windows).
    """
    check_positive("window", window)
    times = np.asarray(times, dtype=np.float64)
    if dt is None:
        index = np.floor(times / window).astype(np.int64)
        return index, times - index * window
    check_positive("dt", dt)
    steps_per_window = int(round(window / dt))
    if steps_per_window < 1 or not np.isclose(steps_per_window * dt, window, rtol=1e-9, atol=0):
        raise ValueError(f"window ({window}) must be an integer multiple of dt ({dt})")
    step = np.rint(times / dt).astype(np.int64)
    return step // steps_per_window, (step % steps_per_window) * dt


def window_activity(
    windows: np.ndarray,
    neurons: np.ndarray,
    latencies: np.ndarray,
    n_windows: int,
    n_neurons: int,
    duration: float,
    latency: LatencyMode = "first",
) -> WindowActivity:
    """Fired flags ``f[w, n]`` and first (or last) spike latencies ``t[w, n]`` from spikes.

    Spike ``k`` is neuron ``neurons[k]`` at ``latencies[k]`` from the start of window
    ``windows[k]``. ``f[w, n] = 1`` if n spiked in w; ``t[w, n]`` is the least (``"first"``) or
    greatest (``"last"``) latency of its spikes there, and ``duration`` (T or T_win) where
    ``f[w, n] = 0`` (module docstring, *Fired flags and latencies*). This is the one computation of
    latencies in NumPy: `activity_from_raster`, `activity_from_spike_times` and
    `dassdp.analysis.synchrony` call it.
    """
    check_choice("latency", latency, ("first", "last"))
    windows = np.asarray(windows, dtype=np.int64)
    neurons = np.asarray(neurons, dtype=np.int64)
    latencies = np.asarray(latencies, dtype=np.float64)
    if not windows.shape == neurons.shape == latencies.shape:
        raise ValueError(
            f"windows {windows.shape}, neurons {neurons.shape} and latencies {latencies.shape} differ in shape"
        )
    for name, index, size in (("window", windows, n_windows), ("neuron", neurons, n_neurons)):
        if index.size and (index.min() < 0 or index.max() >= size):
            raise ValueError(f"{name} indices must lie in [0, {size}), got {index.min()}..{index.max()}")
    fired = np.zeros((n_windows, n_neurons), dtype=np.float64)
    fired[windows, neurons] = 1.0
    if latency == "first":
        out = np.full((n_windows, n_neurons), float(duration))
        np.minimum.at(out, (windows, neurons), latencies)
    else:
        out = np.full((n_windows, n_neurons), -np.inf)
        np.maximum.at(out, (windows, neurons), latencies)
        out[fired == 0] = float(duration)
    return WindowActivity(fired=fired, latency=out, duration=float(duration))


def activity_from_spike_times(
    indices: np.ndarray,
    times: np.ndarray,
    n_neurons: int,
    window: float,
    n_windows: int,
    dt: float | None = None,
    latency: LatencyMode = "first",
) -> WindowActivity:
    """Fired flags and latencies (seconds) from spike times (continuous time, e.g. Brian2).

    Neuron ``indices[k]`` spiked at ``times[k]``; windows and latencies as `window_positions`
    (with ``dt``, on the simulation grid). Spikes past the last window are ignored.
    """
    times = np.asarray(times, dtype=np.float64)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.shape != times.shape:
        raise ValueError(f"indices {indices.shape} and times {times.shape} differ in shape")
    win, lat = window_positions(times, window, dt)
    keep = (win >= 0) & (win < n_windows)
    return window_activity(win[keep], indices[keep], lat[keep], n_windows, n_neurons, window, latency)


def activity_from_raster(spikes: np.ndarray, latency: LatencyMode = "first") -> WindowActivity:
    """Fired flags and latencies (in steps) from a discrete raster ``spikes[T, B, N]`` (PyTorch):
    sample b is window b, and a spike at step k has latency k; silent neurons get latency T."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 3:
        raise ValueError(f"spikes must have shape [T, B, N], got {spikes.shape}")
    n_steps, n_samples, n_neurons = spikes.shape
    step, sample, neuron = np.nonzero(spikes > 0)
    return window_activity(sample, neuron, step, n_samples, n_neurons, n_steps, latency)


# --------------------------------------------------------------------------------------------
# DA-SSDP pieces
# --------------------------------------------------------------------------------------------


def eligibility(
    pre: WindowActivity,
    post: WindowActivity,
    sigma: float,
    a_plus: float = A_PLUS,
    a_base: float = A_BASE,
) -> np.ndarray:
    """Dense eligibility ``e[b, j, i]`` for every sample b, post j and pre i.

    ``sync = fired_i * fired_j``, ``K = exp(-(t_j - t_i)^2 / (2 sigma^2))``,
    ``e = A_plus * sync * K - A_base * (1 - sync) * K``.
    """
    check_positive("sigma", sigma)
    sync = post.fired[:, :, None] * pre.fired[:, None, :]
    delta = post.latency[:, :, None] - pre.latency[:, None, :]
    kernel = np.exp(-(delta**2) / (2.0 * sigma**2))
    return a_plus * sync * kernel - a_base * (1.0 - sync) * kernel


def _fired(activity: WindowActivity | np.ndarray, name: str) -> np.ndarray:
    """The fired flags ``[windows, neurons]`` of a `WindowActivity` or of a 0/1 (bool) array."""
    fired = activity.fired if isinstance(activity, WindowActivity) else np.asarray(activity, dtype=np.float64)
    if fired.ndim != 2:
        raise ValueError(f"{name} must be a WindowActivity or fired flags [windows, neurons], got shape {fired.shape}")
    return fired


def sample_synchrony(
    pre: WindowActivity | np.ndarray, post: WindowActivity | np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Sample synchrony ``S_b = sum_ji M_ji f_bj f_bi / sum_ji M_ji`` of every window b.

    The mean over synapses of ``sync = f_bj f_bi`` (module docstring, *Sample synchrony*).
    ``pre`` and ``post`` are `WindowActivity` or fired flags ``[windows, neurons]`` (0/1 or bool).
    ``mask[j, i]`` marks the synapse from pre i to post j, shape ``(n_post, n_pre)`` like a weight
    matrix; without it every pair is a synapse and ``S_b = mean_j f_bj * mean_i f_bi``. An empty
    mask gives NaN. This is the one computation of S in NumPy (`dassdp.analysis.synchrony`
    exports it too).
    """
    pre_fired, post_fired = _fired(pre, "pre"), _fired(post, "post")
    if pre_fired.shape[0] != post_fired.shape[0]:
        raise ValueError(f"pre has {pre_fired.shape[0]} windows but post has {post_fired.shape[0]}")
    if mask is None:
        return post_fired.mean(axis=1) * pre_fired.mean(axis=1)
    mask = np.asarray(mask, dtype=np.float64)
    expected = (post_fired.shape[1], pre_fired.shape[1])
    if mask.shape != expected:
        raise ValueError(f"mask must have shape (n_post, n_pre) = {expected}, got {mask.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((post_fired @ mask) * pre_fired).sum(axis=1) / mask.sum()


@dataclass(frozen=True)
class Gate:
    """The DA-SSDP gate, fitted once at the end of warm-up.

    ``mu = mean(S)``, ``s = std(S) + 1e-8`` (population std) and ``k = -mean(z(S) z(L))`` with
    ``z(x) = (x - mean(x)) / (std(x) + 1e-8)``: minus the Pearson correlation of synchrony and loss.
    """

    k: float
    mu: float
    s: float


def fit_gate(synchrony: np.ndarray, loss: np.ndarray, fit: GateFit = "published") -> Gate:
    """Fit the gate from the warm-up records ``(S_b, L_b)``, in presentation order (see `Gate`).

    ``fit="detrended"`` is this project's extension, not the published rule: ``k`` is minus the
    correlation of the residuals of S and L after a least-squares line on the record index
    ``b = 0 .. n-1``, ``r_x = x - (alpha_x + beta_x b)``, so that a common trend over warm-up
    (the loss falls as the network learns while S drifts) does not pass for a relation between
    synchrony and loss; ``mu`` and ``s`` stay those of S.
    """
    check_choice("fit", fit, ("published", "detrended"))
    synchrony = np.asarray(synchrony, dtype=np.float64).ravel()
    loss = np.asarray(loss, dtype=np.float64).ravel()
    if synchrony.shape != loss.shape or synchrony.size < 2:
        raise ValueError(
            f"need at least two (S, L) warm-up records of equal length, got {synchrony.size} and {loss.size}"
        )
    mu, s = synchrony.mean(), synchrony.std() + STD_EPS
    r_s, r_l = synchrony - mu, loss - loss.mean()
    if fit == "detrended":
        trend = np.arange(synchrony.size) - (synchrony.size - 1) / 2
        r_s = r_s - trend * (trend @ r_s) / (trend @ trend)
        r_l = r_l - trend * (trend @ r_l) / (trend @ trend)
    z_s = r_s / (r_s.std() + STD_EPS)
    z_l = r_l / (r_l.std() + STD_EPS)
    return Gate(k=float(-np.mean(z_s * z_l)), mu=float(mu), s=float(s))


def gate_values(synchrony: np.ndarray, gate: Gate | None, mode: GateMode, tol: float = 1e-6) -> np.ndarray:
    """Per-sample gate ``g_b``.

    ``continuous``: ``clip(1 + k (S_b - mu) / s, 0, 2)``; ``sign``: ``sign(k)``, or 1 where
    ``|k| < tol``; ``off``: 1.
    """
    check_choice("gate", mode, ("continuous", "sign", "off"))
    synchrony = np.asarray(synchrony, dtype=np.float64)
    if mode == "off":
        return np.ones_like(synchrony)
    if gate is None:
        raise ValueError(f"gate mode {mode!r} needs a fitted gate")
    if mode == "continuous":
        return np.clip(1.0 + gate.k * (synchrony - gate.mu) / gate.s, 0.0, 2.0)
    sign = 1.0 if abs(gate.k) < tol else float(np.sign(gate.k))
    return np.full_like(synchrony, sign)


def weight_update(e: np.ndarray, g: np.ndarray, clip: float = 1.0) -> np.ndarray:
    """``dW = clip(mean_b(g_b * e_b), -c, c)`` for a batch ``e[b, j, i]``."""
    check_positive("clip", clip)
    return np.clip(np.einsum("b,bji->ji", g, e) / e.shape[0], -clip, clip)


@dataclass(frozen=True)
class DASSDPParams:
    """The constants of DA-SSDP (the contract in this module's docstring), shared by the NumPy
    reference, the Brian2 rule and the PyTorch plug-in.

    ``sigma`` is in the unit of the latencies: time steps (the PyTorch plug-in, and the Brian2
    rule, which multiplies it by its clock's ``dt``), or whatever unit the latencies given to
    `simulate_dassdp` use; ``clip`` the bound c on each update element;
    ``w_min``, ``w_max`` bound the weights themselves (none by default, as published);
    ``gate_fit`` is ``"published"`` or this project's ``"detrended"`` (see `fit_gate`).
    """

    sigma: float = 1.0
    a_plus: float = A_PLUS
    a_base: float = A_BASE
    gate: GateMode = "continuous"
    clip: float = 1.0
    latency: LatencyMode = "first"
    sign_tol: float = 1e-6
    w_min: float = -np.inf
    w_max: float = np.inf
    gate_fit: GateFit = "published"

    def __post_init__(self) -> None:
        check_choice("gate_fit", self.gate_fit, ("published", "detrended"))
        if np.isnan(self.w_min) or np.isnan(self.w_max) or self.w_min >= self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must be below w_max ({self.w_max})")
        check_positive("sigma", self.sigma)
        check_positive("clip", self.clip)
        check_positive("a_plus", self.a_plus, strict=False)
        check_positive("a_base", self.a_base, strict=False)
        check_positive("sign_tol", self.sign_tol, strict=False)
        check_choice("gate", self.gate, ("continuous", "sign", "off"))
        check_choice("latency", self.latency, ("first", "last"))


def check_windows(warmup: int, batch: int, gate: GateMode) -> None:
    """The window settings of the window protocol (`simulate_dassdp`, the Brian2 rule): ``warmup``
    windows record ``(S, L)`` before the gate is fitted (at least 2 unless the gate is off),
    ``batch`` windows are averaged per update."""
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if int(warmup) != warmup or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    if gate != "off" and warmup < 2:
        raise ValueError(f"warmup must be >= 2 windows to fit the {gate!r} gate, got {warmup}")


@dataclass
class DASSDPResult:
    """Outcome of `simulate_dassdp`: final weights, fitted gate and per-window series."""

    weights: np.ndarray
    gate: Gate | None
    synchrony: np.ndarray
    gate_values: np.ndarray
    updates: list[np.ndarray] = field(default_factory=list)


def simulate_dassdp(
    pre: WindowActivity,
    post: WindowActivity,
    loss: np.ndarray,
    weights: np.ndarray,
    params: DASSDPParams,
    warmup: int = 100,
    batch: int = 1,
    mask: np.ndarray | None = None,
    learn: np.ndarray | None = None,
    normalize=None,
) -> DASSDPResult:
    """Run DA-SSDP over consecutive windows, one sample per window (the Brian2 protocol).

    Windows ``0 .. warmup-1`` only record ``(S_w, L_w)``; the gate is fitted after window
    ``warmup - 1``. After warm-up, windows are taken in batches of ``batch``: at the end of
    each complete batch ``dW = clip(mean(g_w e_w), -c, c)`` is added to the weights (only where
    ``mask`` has synapses) and the weights are clipped to ``[w_min, w_max]``. An incomplete last
    batch is not applied. ``gate_values`` is NaN during warm-up. ``normalize`` (a function of the
    weights, e.g. `normalize_rows` with fixed set points) is applied after every window, as a
    Brian2 projection with a `RowNormalization` does.

    ``learn`` (one boolean per window) is a plasticity schedule: windows where it is False (e.g.
    evaluation windows) are skipped as if they had not been presented; the result then describes
    the learning windows only.
    """
    check_windows(warmup, batch, params.gate)
    if learn is not None:
        learn = np.asarray(learn, dtype=bool)
        if learn.shape != (pre.fired.shape[0],):
            raise ValueError(f"learn must have one flag per window ({pre.fired.shape[0]}), got shape {learn.shape}")
        pre, post, loss = pre.select(learn), post.select(learn), np.asarray(loss)[learn]
    n_windows = pre.fired.shape[0]
    if warmup > n_windows:
        raise ValueError(f"warmup ({warmup} windows) is longer than the run ({n_windows} windows)")
    loss = np.asarray(loss, dtype=np.float64)
    if loss.shape != (n_windows,):
        raise ValueError(f"loss must have one value per window ({n_windows}), got shape {loss.shape}")
    weights = np.array(weights, dtype=np.float64)
    synchrony = sample_synchrony(pre, post, mask)
    gate = fit_gate(synchrony[:warmup], loss[:warmup], params.gate_fit) if params.gate != "off" else None
    g = np.full(n_windows, np.nan)
    g[warmup:] = gate_values(synchrony[warmup:], gate, params.gate, params.sign_tol)
    e = eligibility(pre, post, params.sigma, params.a_plus, params.a_base)
    where = np.ones_like(weights) if mask is None else np.asarray(mask, dtype=np.float64)
    updates = []
    for end in range(1, n_windows + 1):
        start = end - batch
        if start >= warmup and (start - warmup) % batch == 0:
            dw = weight_update(e[start:end], g[start:end], params.clip) * where
            weights = np.where(where > 0, np.clip(weights + dw, params.w_min, params.w_max), weights)
            updates.append(dw)
        if normalize is not None:
            weights = normalize(weights)
    return DASSDPResult(weights=weights, gate=gate, synchrony=synchrony, gate_values=g, updates=updates)


# --------------------------------------------------------------------------------------------
# Pair-based STDP and three-factor DA-STDP
# --------------------------------------------------------------------------------------------


def _events(pre_times, post_times, extra: dict[str, np.ndarray] | None = None) -> list[tuple[float, int, str]]:
    """Time-ordered events; at equal times pre comes before post before the rest.

    This is Brian2's order within a step (the ``pre`` pathway runs before ``post``); what a
    simultaneous pre/post pair then does is set by ``same_step`` (see `STDPParams`).
    """
    kinds = {"pre": pre_times, "post": post_times, **(extra or {})}
    events = [(float(t), rank, kind) for rank, (kind, ts) in enumerate(kinds.items()) for t in np.ravel(ts)]
    return sorted(events)


@dataclass(frozen=True)
class STDPParams:
    """Pair-based additive STDP (Song, Miller & Abbott 2000; Morrison et al. 2008).

    A pre spike at t_pre and a post spike at t_post change w by ``A_plus exp(-dt/tau_plus)`` if
    ``dt = t_post - t_pre >= 0`` and by ``A_minus exp(dt/tau_minus)`` (A_minus < 0) otherwise.
    ``pairing='all'`` sums over all pairs; ``'nearest'`` pairs each spike only with the nearest
    preceding spike of the other neuron (symmetric nearest-spike, traces reset to 1 at a spike).
    The weight is clipped to ``[w_min, w_max]`` after every event.

    ``same_step`` decides a pair of spikes at the same time (on a simulation grid: in the same
    step, whose order the grid does not resolve). ``"balanced"`` (default) changes w by
    ``(A_plus + A_minus) / 2``, the mean of the window's two branches at zero delay, so that
    such pairs bias the rule towards neither potentiation nor depression. ``"causal"`` counts the
    pre spike first and potentiates by the full ``A_plus``: Brian2's own STDP example (Song,
    Miller & Abbott 2000) does this, because its ``pre`` pathway runs before ``post`` within a
    step; with ``dt = 0.1 ms`` and ``tau = 20 ms`` it hardly matters, but on a grid of
    ``dt = 1 ms`` with ``tau = 2 ms`` and dense firing it adds about one ``A_plus`` per pre spike
    (the discrete window then integrates to about 2.5 A_plus against 1.5 |A_minus|). NEST's
    ``stdp_synapse`` sidesteps the question with a dendritic delay of at least one step.
    """

    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    a_plus: float = 0.01
    a_minus: float = -0.0105
    w_min: float = 0.0
    w_max: float = 1.0
    pairing: Literal["all", "nearest"] = "all"
    same_step: SameStep = "balanced"

    def __post_init__(self) -> None:
        check_positive("tau_plus", self.tau_plus)
        check_positive("tau_minus", self.tau_minus)
        check_choice("pairing", self.pairing, ("all", "nearest"))
        check_choice("same_step", self.same_step, ("balanced", "causal"))
        if self.w_min > self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must not exceed w_max ({self.w_max})")


class Schedule:
    """A plasticity schedule: ``values[m]`` (0 or 1) switches learning off or on in window m of
    length ``window`` (seconds); past the last window the last value holds, as in a Brian2
    `TimedArray`. Functions that take a schedule treat None as always on."""

    def __init__(self, values, window: float) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        check_positive("window", window)
        if self.values.ndim != 1 or len(self.values) == 0 or not np.all(np.isin(self.values, (0.0, 1.0))):
            raise ValueError("schedule values must be a non-empty 1-d array of 0/1 flags, one per window")
        self.window = float(window)

    def __call__(self, t: float) -> float:
        return float(self.values[min(int(np.floor(t / self.window + 1e-9)), len(self.values) - 1)])

    def edges(self, t_end: float) -> np.ndarray:
        """Window boundaries in ``(0, t_end]`` (where the factor may change)."""
        return self.window * np.arange(1, int(np.floor(t_end / self.window + 1e-9)) + 1)


def stdp_weight(pre_times, post_times, w0: float, params: STDPParams, schedule: Schedule | None = None) -> float:
    """Final weight of one synapse under pair-based STDP (see `STDPParams`); with ``schedule``
    every weight change at time t is multiplied by ``schedule(t)`` (traces run regardless)."""
    factor = schedule or (lambda t: 1.0)
    same = same_step_correction(params.a_plus, params.a_minus, params.same_step)
    w, x_pre, x_post, last, last_pre = float(w0), 0.0, 0.0, 0.0, None
    for t, _, kind in _events(pre_times, post_times):
        x_pre *= np.exp(-(t - last) / params.tau_plus)
        x_post *= np.exp(-(t - last) / params.tau_minus)
        last = t
        if kind == "pre":
            x_pre = 1.0 if params.pairing == "nearest" else x_pre + 1.0
            last_pre = t
            w = np.clip(w + factor(t) * params.a_minus * x_post, params.w_min, params.w_max)
        else:
            x_post = 1.0 if params.pairing == "nearest" else x_post + 1.0
            dw = params.a_plus * x_pre + same * (last_pre == t)
            w = np.clip(w + factor(t) * dw, params.w_min, params.w_max)
    return float(w)


def same_step_correction(a_plus: float, a_minus: float, same_step: SameStep) -> float:
    """What a post spike adds, beyond ``a_plus x_pre``, when the pre neuron spiked at the same
    time (after it in a step's order, so ``x_pre`` already holds that spike's jump):
    ``(a_minus - a_plus) / 2`` for ``"balanced"`` (the pair then counts ``(a_plus + a_minus) / 2``,
    ``a_minus < 0``), 0 for ``"causal"`` (see `STDPParams`)."""
    check_choice("same_step", same_step, ("balanced", "causal"))
    return (a_minus - a_plus) / 2 if same_step == "balanced" else 0.0


@dataclass(frozen=True)
class DASTDPParams:
    """Three-factor dopamine-modulated STDP (Izhikevich 2007) with the semantics of NEST's
    ``stdp_dopamine_synapse`` (Potjans, Morrison & Diesmann 2010).

    Eligibility ``dc/dt = -c / tau_c + A_plus x_pre(t) delta(t - t_post) - A_minus x_post(t)
    delta(t - t_pre)`` with all-to-all traces x (time constants tau_plus, tau_minus, jump 1);
    dopamine ``dn/dt = -n / tau_n + sum_k delta(t - t_k) / tau_n`` for dopaminergic spikes t_k;
    weight ``dw/dt = c (n - b)``, clipped to ``[w_min, w_max]`` at the end of every interval
    between events, as NEST does. ``same_step``: a pre and a post spike at the same time add
    ``(A_plus - A_minus) / 2`` to ``c`` (``"balanced"``, default) or ``A_plus`` (``"causal"``), as in
    `STDPParams`.
    """

    tau_c: float = 1.0
    tau_n: float = 0.2
    tau_plus: float = 20e-3
    tau_minus: float = 15e-3
    a_plus: float = 1.0
    a_minus: float = 1.5
    b: float = 0.0
    w_min: float = 0.0
    w_max: float = 200.0
    same_step: SameStep = "balanced"

    def __post_init__(self) -> None:
        for name in ("tau_c", "tau_n", "tau_plus", "tau_minus"):
            check_positive(name, getattr(self, name))
        check_choice("same_step", self.same_step, ("balanced", "causal"))
        if self.w_min > self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must not exceed w_max ({self.w_max})")


def dastdp_interval(c0: float, n0: float, duration: float, params: DASTDPParams) -> float:
    """Exact weight change over an interval without events, NEST's ``update_weight_``:

    ``int_0^D c0 e^{-s/tau_c} (n0 e^{-s/tau_n} - b) ds
    = c0 n0 (1 - e^{-D/tau_s}) tau_s - b c0 tau_c (1 - e^{-D/tau_c})``,
    ``1/tau_s = 1/tau_c + 1/tau_n``.
    """
    tau_s = params.tau_c * params.tau_n / (params.tau_c + params.tau_n)
    return float(
        -c0 * n0 * tau_s * np.expm1(-duration / tau_s)
        + params.b * c0 * params.tau_c * np.expm1(-duration / params.tau_c)
    )


def dastdp_weight(
    pre_times,
    post_times,
    dopamine_times,
    w0: float,
    t_end: float,
    params: DASTDPParams,
    schedule: Schedule | None = None,
) -> dict[str, float]:
    """Final weight, eligibility and dopamine at ``t_end`` of one synapse under DA-STDP.

    Events at equal times are taken in the order pre, post, dopamine (see `_events`). With
    ``schedule``, ``dw/dt = schedule(t) c (n - b)``: intervals are split at window boundaries.
    """
    factor = schedule or (lambda t: 1.0)
    same = same_step_correction(params.a_plus, -params.a_minus, params.same_step)
    w, c, n, x_pre, x_post, last, last_pre = float(w0), 0.0, 0.0, 0.0, 0.0, 0.0, None
    extra = {"dopa": dopamine_times, "edge": schedule.edges(t_end) if schedule else []}
    events = sorted(_events(pre_times, post_times, extra) + [(float(t_end), 4, "end")])
    for t, _, kind in events:
        if t > t_end:
            break
        span = t - last
        if span > 0:
            dw = factor(last) * dastdp_interval(c, n, span, params)
            w = float(np.clip(w + dw, params.w_min, params.w_max))
            c *= np.exp(-span / params.tau_c)
            n *= np.exp(-span / params.tau_n)
            x_pre *= np.exp(-span / params.tau_plus)
            x_post *= np.exp(-span / params.tau_minus)
            last = t
        if kind == "pre":
            x_pre += 1.0
            last_pre = t
            c -= params.a_minus * x_post
        elif kind == "post":
            x_post += 1.0
            c += params.a_plus * x_pre + same * (last_pre == t)
        elif kind == "dopa":
            n += 1.0 / params.tau_n
    return {"w": w, "c": float(c), "n": float(n)}


# --------------------------------------------------------------------------------------------
# Weight normalisation per post-synaptic neuron
# --------------------------------------------------------------------------------------------

Normalization = Literal["none", "subtractive", "divisive"]


def row_set_points(weights: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The set points of `normalize_rows` from initial weights ``(n_post, n_pre)``: each row's mean
    ``mu_j`` and spread ``rho_j = sqrt(sum_i (w_ij - mu_j)^2)`` over its synapses (``mask``, (post,
    pre)). A row without spread (e.g. all zero: a label neuron no pretraining has seen) takes the
    mean spread of the others, so that learning can give it a direction of the same size."""
    weights = np.asarray(weights, dtype=np.float64)
    where = np.ones_like(weights, dtype=bool) if mask is None else _row_mask(mask, weights.shape)
    n = where.sum(1)
    mean = np.where(where, weights, 0.0).sum(1) / np.maximum(n, 1)
    spread = np.sqrt(np.where(where, (weights - mean[:, None]) ** 2, 0.0).sum(1))
    flat = spread <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    if flat.all():
        raise ValueError("row_set_points: every row of the initial weights is constant; give the spreads explicitly")
    spread[flat] = spread[~flat].mean()
    return mean, spread


def normalize_rows(
    weights: np.ndarray,
    mode: Normalization,
    mean: np.ndarray,
    spread: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Weights ``(n_post, n_pre)`` after normalisation per post neuron j (its synapses: ``mask``).

    With ``m_j = mean_i w_ij`` and ``d_j = sqrt(sum_i (w_ij - m_j)^2)``:

    - ``"subtractive"`` (Miller & MacKay 1994): ``w_ij - m_j + mu_j``; the row keeps its mean at
      the set point ``mu_j`` and every synapse shares the change equally;
    - ``"divisive"``: ``mu_j + (w_ij - m_j) rho_j / d_j``, the mean as above and the spread held at
      ``rho_j``, as multiplicative synaptic scaling does (Turrigiano 2008; the rate form of the
      constraint is Oja's rule, Oja 1982); a row with ``d_j = 0`` only moves to its mean;
    - ``"none"``: unchanged.
    """
    check_choice("mode", mode, ("none", "subtractive", "divisive"))
    weights = np.array(weights, dtype=np.float64)
    if mode == "none":
        return weights
    where = np.ones_like(weights, dtype=bool) if mask is None else _row_mask(mask, weights.shape)
    n = np.maximum(where.sum(1), 1)
    m = np.where(where, weights, 0.0).sum(1) / n
    centred = weights - m[:, None]
    scale = np.ones_like(m)
    if mode == "divisive":
        if spread is None:
            raise ValueError("normalize_rows: mode 'divisive' needs the spread set points")
        d = np.sqrt(np.where(where, centred**2, 0.0).sum(1))
        scale = np.where(d > 0, np.asarray(spread, dtype=np.float64) / np.where(d > 0, d, 1.0), 1.0)
    out = np.asarray(mean, dtype=np.float64)[:, None] + centred * scale[:, None]
    return np.where(where, out, weights)


def _row_mask(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask must have the weights' shape (n_post, n_pre) = {tuple(shape)}, got {mask.shape}")
    return mask.astype(bool)
