"""Weight normalisation per post neuron: the NumPy oracle by hand, and Brian2 against it."""

import numpy as np
import pytest

from dassdp.rules import reference as ref


def test_normalize_rows_by_hand():
    w = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    mean, spread = np.array([0.5, 1.0]), np.array([2.0, 3.0])
    # row 0: m = 2, deviations (-1, 0, 1), d = sqrt(2)
    sub = ref.normalize_rows(w, "subtractive", mean)
    np.testing.assert_allclose(sub, [[-0.5, 0.5, 1.5], [1.0, 1.0, 1.0]])
    div = ref.normalize_rows(w, "divisive", mean, spread)
    np.testing.assert_allclose(div[0], 0.5 + np.array([-1.0, 0.0, 1.0]) * 2.0 / np.sqrt(2.0))
    np.testing.assert_allclose(div[1], [1.0, 1.0, 1.0])  # no spread to scale: only the mean moves
    np.testing.assert_array_equal(ref.normalize_rows(w, "none", mean), w)


def test_normalize_rows_holds_set_points_on_existing_synapses():
    rng = np.random.default_rng(1)
    w, mask = rng.normal(size=(4, 6)), rng.random((4, 6)) < 0.7
    mask[:, 0] = True
    mean, spread = rng.normal(size=4), rng.random(4) + 0.5
    out = ref.normalize_rows(w, "divisive", mean, spread, mask=mask)
    for j in range(4):
        row = out[j, mask[j]]
        assert row.mean() == pytest.approx(mean[j])
        assert np.sqrt(((row - row.mean()) ** 2).sum()) == pytest.approx(spread[j])
    np.testing.assert_array_equal(out[~mask], w[~mask])
    with pytest.raises(ValueError, match="mask"):
        ref.normalize_rows(w, "subtractive", mean, mask=mask[:, :3])


def test_row_set_points_give_flat_rows_the_mean_spread():
    w = np.array([[1.0, -1.0], [0.0, 0.0], [2.0, 0.0]])
    mean, spread = ref.row_set_points(w)
    np.testing.assert_allclose(mean, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(spread, [np.sqrt(2), np.sqrt(2), np.sqrt(2)])
    with pytest.raises(ValueError, match="constant"):
        ref.row_set_points(np.zeros((2, 3)))


@pytest.mark.parametrize("mode", ["subtractive", "divisive"])
def test_brian2_normalization_matches_reference(mode):
    """STDP with zero amplitudes changes nothing but the normalisation: after every learning
    window the weights are `normalize_rows` of the previous ones (schedule: windows 0 and 2)."""
    from brian2 import Network, NeuronGroup, defaultclock, ms

    from dassdp.rules.brian2 import STDPSynapses
    from dassdp.rules.brian2.normalization import POST_VARIABLES, RowNormalization

    defaultclock.dt = 1 * ms
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(3, 5))
    mean, spread = rng.normal(size=3), rng.random(3) + 0.5
    pre = NeuronGroup(5, "", threshold="False")
    post = NeuronGroup(3, POST_VARIABLES, threshold="False")
    schedule = ref.Schedule([1, 0, 1, 0], 4e-3)
    params = ref.STDPParams(a_plus=0.0, a_minus=0.0, w_min=-0.8, w_max=10.0)
    rule = STDPSynapses(
        pre, post, params, schedule, w0=w0.T.ravel(), normalization=RowNormalization(mode, mean, spread)
    )
    net = Network(pre, post, *rule.objects)
    expected = np.clip(ref.normalize_rows(w0, mode, mean, spread), -0.8, 10.0)
    net.run(5 * ms)  # the step that opens window 1 normalises after window 0
    np.testing.assert_allclose(rule.synapses.w[:].reshape(5, 3).T, expected, rtol=1e-12, atol=1e-12)
    assert np.abs(expected - w0).max() > 0.1 and expected.min() == -0.8  # it changed them, and clipped
    net.run(8 * ms)  # window 1 does not learn; after window 2 the clipped rows are normalised again
    again = np.clip(ref.normalize_rows(expected, mode, mean, spread), -0.8, 10.0)
    np.testing.assert_allclose(rule.synapses.w[:].reshape(5, 3).T, again, rtol=1e-12, atol=1e-12)
    assert np.abs(again - expected).max() > 1e-3
