"""The same deterministic network gives the same numbers on every target."""

import numpy as np
import pytest

from dassdp.models.cuda import find_curand, find_nvcc


@pytest.mark.standalone
def test_cpp_standalone_equals_numpy_for_spike_generator_input(tmp_path, capsys):
    """The demo network (spike-generator input, LIF readouts, DA-SSDP with count loss); the first
    build says that it compiles, a run on numpy or of a built project says nothing."""
    from dassdp.runs.network_demo import simulate

    numpy_out = simulate("numpy", n_windows=30, warmup=8, seed=5)
    assert "compiling" not in capsys.readouterr().err
    cpp_out = simulate("cpp_standalone", n_windows=30, warmup=8, seed=5, directory=tmp_path / "cpp")
    assert capsys.readouterr().err.count("dassdp: compiling for cpp_standalone") == 1
    simulate("cpp_standalone", n_windows=30, warmup=8, seed=5, directory=tmp_path / "cpp")
    assert "compiling" not in capsys.readouterr().err
    assert len(numpy_out["readout_t"]) > 20  # the readouts fire, so gate and updates are not trivial
    np.testing.assert_array_equal(cpp_out["readout_i"], numpy_out["readout_i"])
    np.testing.assert_array_equal(cpp_out["readout_t"], numpy_out["readout_t"])
    np.testing.assert_allclose(cpp_out["w"], numpy_out["w"], rtol=1e-9)
    for key in ("k", "mu", "s"):
        assert getattr(cpp_out["gate"], key) == pytest.approx(getattr(numpy_out["gate"], key), rel=1e-9)


@pytest.mark.slow
@pytest.mark.skipif(find_nvcc() is None, reason="nvcc not found: cuda_standalone code cannot be compiled here")
@pytest.mark.skipif(find_curand() is None, reason="cuRAND not found (CUDA toolkit or nvidia-curand wheel)")
def test_dassdp_network_compiles_for_cuda_standalone(tmp_path):
    """Generate and compile (nvcc, sm_90 without a GPU) the DA-SSDP network; do not run it."""
    from brian2 import Network, SpikeGeneratorGroup, defaultclock, ms

    from dassdp.models.relay import relay
    from dassdp.models.standalone import StandaloneNetwork
    from dassdp.rules.brian2 import DASSDPSynapses, ExternalLoss, neuron_variables

    with StandaloneNetwork("cuda_standalone", tmp_path / "cuda") as sim:
        defaultclock.dt = 1 * ms
        sources = [SpikeGeneratorGroup(5, [0, 1, 2], [1, 2, 3] * ms), SpikeGeneratorGroup(3, [0, 1], [2, 3] * ms)]
        pre, objs_a = relay(sources[0], extra=neuron_variables("pre"))
        post, objs_b = relay(sources[1], extra=neuron_variables("post"))
        rule = DASSDPSynapses(pre, post, 5 * ms, warmup=2, loss=ExternalLoss(np.arange(6.0)))
        sim.build(Network(*sources, *objs_a, *objs_b, *rule.objects), rule.duration(5))
        assert sim.binary.is_file()
        source = (tmp_path / "cuda" / "makefile").read_text()
        assert "-std=c++17" in source and "sm_90" in source
