"""``dassdp bench torch``: the DA-SSDP update as the published code computes it (the dense
``B x Cout x Cin`` form, written here from the equations) against `dassdp.rules.torch`'s binned
update, and the plug-in's overhead on training steps of small convolutional SNNs (`NETWORKS`).

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` above the inputs. On the CPU torch's
allocator has no such counter (and tracemalloc does not see it), so `LiveTensorBytes` counts it:
a ``TorchDispatchMode`` that adds the storage bytes of every tensor an operator returns, removes
them when the last tensor on that storage is garbage-collected, and keeps the maximum (the CPU
kernel of `dassdp.rules.kernels` gets its scratch arrays as tensors, so they count). The inputs
are excluded from both forms. Update times are the shortest of repeated runs (the machine may be
shared); the plug-in's overhead is a median over interleaved steps (`plugin_overhead`). Nothing
here is asserted.
"""

from __future__ import annotations

import statistics
import time
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from dassdp.models.encoders import rate_encode
from dassdp.models.snn import SpikingConvNet
from dassdp.rules.plugin import DASSDPPlugin
from dassdp.rules.reference import A_BASE, A_PLUS, DASSDPParams
from dassdp.rules.torch import activity_from_raster, dassdp_update

SHAPES = [(128, 512, 1000, 4), (128, 512, 100, 4), (32, 2048, 1000, 4)]


def dense_published(pre_fired, post_fired, pre_latency, post_latency, g, sigma=1.0, a_plus=A_PLUS, a_base=A_BASE):
    """The dense form: ``e[b, j, i]`` built in full, then ``clip(mean_b g_b e_b, -1, 1)``."""
    sync = post_fired.unsqueeze(2) * pre_fired.unsqueeze(1)
    delta = post_latency.unsqueeze(2) - pre_latency.unsqueeze(1)
    kernel = torch.exp(-delta.pow(2) / (2 * sigma**2))
    e = a_plus * sync * kernel - a_base * (1 - sync) * kernel
    return (g.view(-1, 1, 1) * e).mean(0).clamp(-1.0, 1.0)


class LiveTensorBytes(TorchDispatchMode):
    """Peak bytes of tensors allocated by operators inside the mode (see the module docstring)."""

    def __init__(self, *exclude: torch.Tensor) -> None:
        super().__init__()
        self.live = self.peak = 0
        self.refs: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.excluded = {t.untyped_storage().data_ptr() for t in exclude}
        self.tracked: set[int] = set()

    def _release(self, tensor_id: int, key: int) -> None:
        self.tracked.discard(tensor_id)
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.live -= self.sizes.pop(key)
            del self.refs[key]

    def _track(self, tensor: torch.Tensor) -> None:
        key = tensor.untyped_storage().data_ptr()
        if id(tensor) in self.tracked or key in self.excluded or key == 0:
            return
        self.tracked.add(id(tensor))
        if key not in self.refs:
            self.refs[key], self.sizes[key] = 0, tensor.untyped_storage().nbytes()
            self.live += self.sizes[key]
            self.peak = max(self.peak, self.live)
        self.refs[key] += 1
        weakref.finalize(tensor, self._release, id(tensor), key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for item in tree_flatten(out)[0]:
            if isinstance(item, torch.Tensor):
                self._track(item)
        return out


def _peak_bytes(fn, inputs, device) -> int:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn(*inputs)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    with LiveTensorBytes(*inputs) as counter:
        fn(*inputs)
    return counter.peak


def _best_time(fn, inputs, device, repeats: int) -> float:
    """Shortest of ``repeats`` runs: the least disturbed by other load on a shared machine."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*inputs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def compare_update(n_batch, n_pre, n_post, n_steps, device, dtype=torch.float32, rate=0.2) -> dict:
    gen = torch.Generator().manual_seed(0)
    pre = activity_from_raster(torch.rand(n_steps, n_batch, n_pre, generator=gen) < rate)
    post = activity_from_raster(torch.rand(n_steps, n_batch, n_post, generator=gen) < rate)
    g = torch.rand(n_batch, generator=gen) * 2
    inputs = [t.to(device, dtype) for t in (pre[0], post[0], pre[1], post[1], g)]

    def ours(*args):
        return dassdp_update(*args, n_steps=n_steps)

    with torch.no_grad():
        reference = dense_published(*inputs)
        fast = ours(*inputs)
        exact64 = dassdp_update(*(t.double() for t in inputs))
        t_dense = _best_time(dense_published, inputs, device, repeats=3)
        t_ours = _best_time(ours, inputs, device, repeats=20)
        m_dense, m_ours = _peak_bytes(dense_published, inputs, device), _peak_bytes(ours, inputs, device)
    return {
        "dense_s": t_dense,
        "ours_s": t_ours,
        "speedup": t_dense / t_ours,
        "dense_peak_MiB": m_dense / 2**20,
        "ours_peak_MiB": m_ours / 2**20,
        "memory_ratio": m_dense / max(m_ours, 1),
        "max_abs_diff_vs_dense": float((fast - reference).abs().max()),
        "max_abs_diff_vs_float64_exact": float((fast.double() - exact64).abs().max()),
        "max_abs_dW": float(exact64.abs().max()),
    }


#: conv SNNs for the overhead: input shape, conv channels, hidden width, batch size. ``small`` is
#: the one the plug-in's 2 % target refers to; ``medium`` doubles its layers' widths, to show how the
#: fraction changes as the convolutions' cost grows faster than the spike tensors the plug-in reads.
NETWORKS = {
    "tiny": ((2, 16, 16), [8, 16], 64, 32),
    "small": ((2, 32, 32), [16, 32], 128, 64),
    "medium": ((3, 32, 32), [32, 64], 256, 64),
}


def plugin_overhead(device, network: str, n_steps: int = 4, repeats: int = 40, warm_steps: int = 5) -> dict:
    """Time of a training step (forward, backward, Adam) of a conv SNN (`NETWORKS`) on rate-coded
    inputs, for two identical copies: one plain, one with the plug-in on ``lif.1`` and ``lif_fc``
    past warm-up (so each step applies updates). After ``warm_steps`` untimed steps each, the copies
    take turns (in alternating order) for ``repeats`` pairs of steps, so that changes in machine load
    affect both alike; the overhead is the median over pairs of ``t_plugin / t_plain - 1``. Being a
    difference of two noisy times, it is also measured directly: the time spent inside the plug-in
    (its recording in the forward pass and `DASSDPPlugin.step`) over the median plain step, on the CPU."""
    input_shape, channels, hidden, batch = NETWORKS[network]
    gen = torch.Generator().manual_seed(0)
    x = rate_encode(torch.rand(batch, *input_shape, generator=gen), n_steps, gen).to(device)
    y = torch.randint(0, 10, (batch,), generator=gen).to(device)
    runs = []
    for with_plugin in (False, True):
        torch.manual_seed(0)
        model = SpikingConvNet(input_shape, channels, hidden, 10).to(device)
        plasticity = DASSDPPlugin(model, ["lif.1", "lif_fc"], DASSDPParams(), warmup_epochs=1) if with_plugin else None
        runs.append((model, torch.optim.Adam(model.parameters(), lr=1e-3), plasticity))

    inside = [0.0]  # seconds spent in the plug-in's recording and update during the current step
    record = runs[1][2]._record

    def timed_record(*args) -> None:
        start = time.perf_counter()
        record(*args)
        inside[0] += time.perf_counter() - start

    runs[1][2]._record = timed_record

    def train_step(model, optimizer, plasticity) -> float:
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if plasticity is not None:
            update = time.perf_counter()
            plasticity.step(loss)
            inside[0] += time.perf_counter() - update
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for run_ in runs:  # warm-up epoch of 3 steps, then the gate is fitted
        for _ in range(3):
            train_step(*run_)
    runs[1][2].end_epoch()
    for run_ in runs:
        for _ in range(warm_steps):
            train_step(*run_)
    plain, plugged, in_plugin = [], [], []
    for k in range(repeats):
        for run_ in runs if k % 2 == 0 else runs[::-1]:
            inside[0] = 0.0
            (plugged if run_[2] is not None else plain).append(train_step(*run_))
            if run_[2] is not None:
                in_plugin.append(inside[0])
    return {
        "step_s": statistics.median(plain),
        "step_with_plugin_s": statistics.median(plugged),
        "overhead_fraction": statistics.median(b / a - 1.0 for a, b in zip(plain, plugged)),
        # CUDA kernels run asynchronously, so there the direct time would count their launches only
        "in_plugin_s": statistics.median(in_plugin) if device.type == "cpu" else None,
        "in_plugin_fraction": statistics.median(in_plugin) / statistics.median(plain) if device.type == "cpu" else None,
    }


def run(json_out: bool) -> dict:
    """All comparisons; on the CPU with one torch thread, since on a shared machine a busy core
    stalls every multi-threaded operator, which penalises many small operators unfairly."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        result = {"device": str(device), "threads": torch.get_num_threads(), "update": {}}
        for shape in SHAPES:
            result["update"]["B={} Cin={} Cout={} T={}".format(*shape)] = compare_update(*shape, device=device)
        result["plugin"] = {name: plugin_overhead(device, name) for name in NETWORKS}
    finally:
        torch.set_num_threads(threads)
    return result
