"""The pieces of ``benchmarks/bench_torch.py``: its dense form and its CPU memory counter."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from dassdp.rules import reference as ref

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_torch.py"
_spec = importlib.util.spec_from_file_location("bench_torch", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_dense_form_is_the_reference_formula():
    rng = np.random.default_rng(0)
    pre = ref.activity_from_raster(rng.random((4, 6, 9)) < 0.3)
    post = ref.activity_from_raster(rng.random((4, 6, 5)) < 0.3)
    g = rng.random(6)
    expected = ref.weight_update(ref.eligibility(pre, post, 1.0), g)
    got = bench.dense_published(*(torch.from_numpy(a) for a in (pre.fired, post.fired, pre.latency, post.latency, g)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_live_tensor_bytes_counts_peak_of_temporaries():
    x = torch.ones(1000, dtype=torch.float32)

    def work(x):
        a = x * 2  # 4000 bytes live
        b = a + 1  # 8000
        del a  # 4000
        c = b.view(10, 100)  # a view: no new storage
        return (c * 3).sum()  # 8000 with the product, 8004 while the sum's scalar is made

    with bench.LiveTensorBytes(x) as counter:
        work(x)
    assert counter.peak == 8004
    assert counter.live == 0
