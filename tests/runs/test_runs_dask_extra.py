"""`dassdp run` on Dask without Dask installed names the extra to install."""

import sys

from dassdp.cli import main


def test_local_cluster_without_dask_names_the_extra(tiny_study, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    assert main(["run", str(tiny_study()), "--out", str(out), "--local-cluster", "1", "--quiet"]) == 2
    assert "Dask is not installed: pip install 'dassdp[dask]'" in capsys.readouterr().err
