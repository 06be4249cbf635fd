"""Write ``norse_lif.nir`` and ``norse_lif_spikes.npz``: a graph exported by Norse 1.1.0's own
``norse.torch.to_nir`` and the spikes of Norse's own forward pass, for
``tests/bridge/test_nir_conventions.py`` (which does not need Norse).

Norse is not a dependency of this package; run this script where Norse 1.1.0 is installed, e.g.
in a scratch virtual environment that sees this project's packages::

    python3.12 -m venv norse-venv
    echo "$PWD/.venv/lib/python3.12/site-packages" > norse-venv/lib/python3.12/site-packages/project.pth
    norse-venv/bin/python -m pip install --no-deps norse==1.1.0
    norse-venv/bin/python tests/bridge/data/make_norse_fixture.py

Per-neuron parameters: with Norse's scalar defaults the graph cannot be written to a file
(h5py: "Scalar datasets don't support chunk/filter options"; norse/norse issue 412). Norse's
forward runs in float64 (double Linear layers and input; its float32 parameters promote).
"""

from pathlib import Path

import nir
import norse
import norse.torch as nt
import numpy as np
import torch
from norse.torch.utils.export_nir import to_nir

HERE = Path(__file__).parent
DT = 1e-3  # norse.torch.to_nir's default, which the graph does not record
T, B, N_IN, N_HID, N_OUT = 60, 4, 16, 24, 8


def main() -> None:
    assert norse.__version__.startswith("1.1"), norse.__version__
    torch.manual_seed(3)
    lif = nt.LIFBoxCell(
        nt.LIFBoxParameters(
            tau_mem_inv=torch.linspace(80.0, 120.0, N_HID),  # beta = 1 - dt / tau_mem in [0.88, 0.92]
            v_th=torch.full((N_HID,), 1.0),
            v_leak=torch.zeros(N_HID),
        ),
        dt=DT,
    )
    iaf = nt.IAFCell(nt.IAFParameters(v_th=torch.full((N_OUT,), 1.5)), dt=DT)
    fc1, fc2 = torch.nn.Linear(N_IN, N_HID), torch.nn.Linear(N_HID, N_OUT)
    with torch.no_grad():
        fc1.weight.mul_(4.0)
        fc1.bias.add_(2.5)
        fc2.weight.mul_(2.0)
        fc2.bias.add_(0.3)
    net = nt.SequentialState(fc1, lif, fc2, iaf)
    graph = to_nir(net, torch.rand(1, N_IN), dt=DT)
    nir.write(str(HERE / "norse_lif.nir"), graph)

    x = (torch.rand(T, B, N_IN, generator=torch.Generator().manual_seed(4)) < 0.5).double()
    fc1.double()
    fc2.double()
    s_lif, s_iaf, state_lif, state_iaf = [], [], None, None
    with torch.no_grad():
        for t in range(T):
            z1, state_lif = lif(fc1(x[t]), state_lif)
            z2, state_iaf = iaf(fc2(z1), state_iaf)
            s_lif.append(z1)
            s_iaf.append(z2)
    spikes = {"1": torch.stack(s_lif), "3": torch.stack(s_iaf)}  # [T, B, N]
    np.savez_compressed(
        HERE / "norse_lif_spikes.npz",
        x=x.numpy().astype(np.uint8),
        dt=DT,
        **{name: s.numpy().astype(np.uint8) for name, s in spikes.items()},
    )
    print({name: int(s.sum()) for name, s in spikes.items()}, {name: s.numel() for name, s in spikes.items()})


if __name__ == "__main__":
    main()
