"""Golomb's chi and the Kuramoto order parameter on cases with known answers."""

import numpy as np
import pytest

from dassdp.analysis.population import golomb_chi, kuramoto_order
from dassdp.analysis.spikes import from_arrays


def test_golomb_chi_identical_independent_antiphase_constant():
    t = np.linspace(0, 1, 1000, endpoint=False)
    identical = np.repeat(np.sin(2 * np.pi * 5 * t)[:, None], 10, axis=1)
    assert golomb_chi(identical) == pytest.approx(1.0)
    antiphase = np.column_stack([np.sin(2 * np.pi * 5 * t), -np.sin(2 * np.pi * 5 * t)])
    assert golomb_chi(antiphase) == pytest.approx(0.0, abs=1e-7)
    rng = np.random.default_rng(0)
    independent = rng.normal(size=(4, 20_000, 100))  # leading axis: 4 trials
    np.testing.assert_allclose(golomb_chi(independent), 1 / np.sqrt(100), rtol=0.05)
    assert np.isnan(golomb_chi(np.ones((5, 3))))


def test_golomb_chi_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        golomb_chi(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="T >= 2"):
        golomb_chi(np.ones((1, 3)))


def test_kuramoto_in_phase_antiphase_and_undefined():
    periodic = np.arange(0, 1.0001, 0.1)
    spikes = from_arrays(np.repeat([0, 1, 2], periodic.size), np.concatenate([periodic, periodic, periodic + 0.05]))
    grid = np.array([0.025, 0.075, 0.5, 1.5])
    # neurons 0 and 1 in phase: R = 1 at every defined time
    both = kuramoto_order(spikes[spikes.neuron < 2], 2, grid)
    np.testing.assert_allclose(both["order_parameter"][:3], 1.0)
    # neurons 0 and 2 half a period apart: R = 0 where both are defined
    anti = kuramoto_order(spikes[spikes.neuron != 1], 3, grid)
    assert anti["n_defined"].tolist() == [1, 2, 2, 0]
    assert anti["order_parameter"][0] == pytest.approx(1.0)  # only neuron 0 defined before 0.05
    np.testing.assert_allclose(anti["order_parameter"][1:3], 0.0, atol=1e-12)
    assert np.isnan(anti["order_parameter"][3])


def test_kuramoto_single_spike_has_no_phase():
    out = kuramoto_order(from_arrays([0], [0.5]), 1, np.array([0.4, 0.5, 0.6]))
    assert out["n_defined"].tolist() == [0, 0, 0]
    assert out["order_parameter"].isna().all()
