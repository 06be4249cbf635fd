"""Spike tables: converters, validation and window assignment."""

import numpy as np
import pandas as pd
import pytest

from dassdp.analysis.spikes import (
    assign_windows,
    from_arrays,
    from_brian2,
    from_torch,
    resolve_windows,
    select_population,
)


def test_from_arrays_sorts_by_time_stably():
    table = from_arrays([2, 0, 1, 3], [0.3, 0.1, 0.3, 0.2], population="L1")
    assert table["time"].tolist() == [0.1, 0.2, 0.3, 0.3]
    assert table["neuron"].tolist() == [0, 3, 2, 1]
    assert (table["population"] == "L1").all()


@pytest.mark.parametrize(
    ("indices", "times", "column"),
    [
        ([0, 1], [0.1, np.nan], "'time'"),
        ([0, -1], [0.1, 0.2], "'neuron'"),
        ([0, 1.5], [0.1, 0.2], "'neuron'"),
    ],
)
def test_from_arrays_rejects_bad_values_naming_the_column(indices, times, column):
    with pytest.raises(ValueError, match=column):
        from_arrays(indices, times)


def test_from_arrays_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="entries"):
        from_arrays([0, 1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="'trial'"):
        from_arrays([0, 1], [0.1, 0.2], trial=[0, 1, 2])


def test_from_torch_ndarray_and_duck_typed_tensor():
    spikes = np.zeros((4, 2, 3))
    spikes[1, 0, 2] = 1  # step 1, sample 0, neuron 2
    spikes[3, 1, 0] = 1  # step 3, sample 1, neuron 0

    class FakeTensor:
        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return spikes

    for source in (spikes, FakeTensor()):
        table = from_torch(source, dt=1e-3, first_window=5)
        assert table[["neuron", "trial", "window"]].values.tolist() == [[2, 0, 5], [0, 1, 6]]
        np.testing.assert_allclose(table["time"], [1e-3, 3e-3])
        np.testing.assert_allclose(table["latency"], table["time"])
        assert table.attrs == {"window": 4e-3, "t0": 0.0, "n_windows": 7}


def test_from_torch_real_tensor():
    torch = pytest.importorskip("torch")
    spikes = torch.zeros(3, 1, 2, requires_grad=True) + torch.tensor([0.0, 1.0])
    table = from_torch(spikes, dt=0.5)
    assert table["neuron"].tolist() == [1, 1, 1]
    np.testing.assert_allclose(table["time"], [0.0, 0.5, 1.0])


def test_from_torch_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\[T, B, N\]"):
        from_torch(np.zeros((3, 2)), dt=1e-3)


def test_from_brian2_duck_typed_monitor():
    class Monitor:
        i = np.array([1, 0])
        t = np.array([0.02, 0.01])

    table = from_brian2(Monitor(), population="exc")
    assert table["neuron"].tolist() == [0, 1]
    np.testing.assert_allclose(table["time"], [0.01, 0.02])


def test_from_brian2_real_monitor():
    b2 = pytest.importorskip("brian2")
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms  # other tests in this process may have set another dt
    group = b2.SpikeGeneratorGroup(3, [2, 0], [1.0, 2.5] * b2.ms)
    monitor = b2.SpikeMonitor(group)
    b2.Network(group, monitor).run(4 * b2.ms, namespace={})
    table = from_brian2(monitor)
    assert table["neuron"].tolist() == [2, 0]
    np.testing.assert_allclose(table["time"], [1e-3, 2.5e-3])


def test_assign_windows_index_and_latency():
    table = assign_windows(from_arrays([0, 1, 0], [0.26, 0.05, 0.149]), window=0.1, t0=0.05, n_windows=3)
    assert table["window"].tolist() == [0, 0, 2]
    np.testing.assert_allclose(table["latency"], [0.0, 0.099, 0.01])
    assert resolve_windows(table) == 3


def test_assign_windows_rejects_out_of_range_and_bad_window():
    table = from_arrays([0, 1], [0.05, 0.35])
    with pytest.raises(ValueError, match="after the last"):
        assign_windows(table, 0.1, n_windows=3)
    with pytest.raises(ValueError, match="before t0"):
        assign_windows(table, 0.1, t0=0.1)
    with pytest.raises(ValueError, match="window must be > 0"):
        assign_windows(table, 0.0)


def test_mismatched_window_definitions_raise():
    table = assign_windows(from_arrays([0], [0.05]), window=0.1, n_windows=4)
    with pytest.raises(ValueError, match="mismatched window definitions"):
        assign_windows(table, window=0.05)
    with pytest.raises(ValueError, match="mismatched window definitions"):
        resolve_windows(table, n_windows=2)
    with pytest.raises(ValueError, match="'window' is missing"):
        resolve_windows(from_arrays([0], [0.05]))


def test_empty_table_and_population_selection():
    empty = assign_windows(from_arrays([], []), window=0.1, n_windows=2)
    assert len(empty) == 0 and resolve_windows(empty) == 2
    mixed = pd.concat([from_arrays([0], [0.1], population="a"), from_arrays([1], [0.2], population="b")])
    assert select_population(mixed, "b")["neuron"].tolist() == [1]
    with pytest.raises(ValueError, match="'population'"):
        select_population(from_arrays([0], [0.1]), "a")


def test_assign_windows_on_the_simulation_grid_puts_edge_spikes_in_the_next_window():
    table = from_arrays([0, 0, 1], [0.15, 0.3, 0.149])
    windowed = assign_windows(table, 0.05, dt=1e-3)
    assert list(windowed["window"]) == [2, 3, 6]  # the table is sorted by time
    np.testing.assert_allclose(windowed["latency"], [0.049, 0.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="multiple of dt"):
        assign_windows(table, 0.05, dt=0.003)
