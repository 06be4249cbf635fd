"""Offline data sets, the surrogate SNN's accuracy and the ``dassdp paper`` command."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from dassdp.cli import main
from dassdp.runs import datasets
from dassdp.runs.paper import SETUPS, summarise, train


def test_digits_split_is_fixed_and_scaled():
    a, b = datasets.load_digits(seed=3), datasets.load_digits(seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    assert len(a.y_train) + len(a.y_test) == 1797 and a.input_shape == (64,)
    assert 0.0 <= float(a.x_train.min()) and float(a.x_train.max()) <= 1.0
    assert not torch.equal(datasets.load_digits(seed=4).y_train, a.y_train)


def test_mnist1d_is_generated_offline():
    data = datasets.load_mnist1d()
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert abs(float(data.x_train.mean())) < 1e-4 and set(data.y_train.tolist()) == set(range(10))


def test_cifar10_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.load_cifar10(tmp_path / "nowhere")
    for name in datasets.CIFAR10_TRAIN[:4]:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*lacks data_batch_5, test_batch"):
        datasets.load_cifar10(tmp_path)


def test_cifar10_reads_pickle_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name in (*datasets.CIFAR10_TRAIN, datasets.CIFAR10_TEST):
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [1, 7]}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    data = datasets.load_cifar10(tmp_path)
    assert data.x_train.shape == (10, 3, 32, 32) and data.x_test.shape == (2, 3, 32, 32)
    assert data.y_train.tolist() == [1, 7] * 5 and float(data.x_train.max()) <= 1.0


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="dataset must be one of"):
        datasets.load_dataset("imagenet")


def test_snn_learns_digits():
    """The surrogate-gradient MLP passes 95% test accuracy on digits within 12 epochs (a few CPU seconds)."""
    torch.set_num_threads(1)
    records = list(train(datasets.load_digits(), SETUPS["digits"], seed=0, gate=None, epochs=12))
    assert records[-1]["test_acc"] >= 0.95


def test_snn_learns_mnist1d():
    """The 1-d convolutional SNN passes 80% test accuracy on MNIST-1D within 8 epochs (about 10 s)."""
    torch.set_num_threads(1)
    records = list(train(datasets.load_mnist1d(), SETUPS["mnist1d"], seed=0, gate=None, epochs=8))
    assert records[-1]["test_acc"] >= 0.80


def test_summary_pairs_by_seed():
    rows = [
        {"dataset": "d", "seed": s, "variant": v, "epoch": 0, "test_acc": acc}
        for s, (base, other) in enumerate([(0.5, 0.6), (0.7, 0.7), (0.4, 0.7)])
        for v, acc in (("baseline", base), ("dassdp", other))
    ]
    summary = summarise(pd.DataFrame(rows)).set_index("variant")
    assert summary.loc["dassdp", "diff_mean"] == pytest.approx((0.1 + 0.0 + 0.3) / 3)
    # t-interval of (0.1, 0, 0.3): mean 0.1333, sd 0.1528, t_0.975,2 = 4.3027
    half = 4.302652729911275 * np.std([0.1, 0.0, 0.3], ddof=1) / np.sqrt(3)
    assert summary.loc["dassdp", "diff_ci_low"] == pytest.approx(0.4 / 3 - half)
    assert summary.loc["dassdp", "diff_ci_high"] == pytest.approx(0.4 / 3 + half)
    assert summary.loc["baseline", "test_acc_mean"] == pytest.approx(1.6 / 3)


def test_paper_command_writes_tidy_table(tmp_path):
    assert main(["paper", "--dataset", "digits", "--seeds", "2", "--epochs", "6", "--out", str(tmp_path)]) == 0
    results = pd.read_parquet(tmp_path / "results.parquet")
    assert set(results.columns) >= {
        "dataset",
        "seed",
        "variant",
        "epoch",
        "train_acc",
        "test_acc",
        "loss",
        "gate_k",
        "S",
    }
    assert len(results) == 2 * 3 * 6
    assert results[results.variant == "baseline"].gate_k.isna().all()
    after_warmup = results[(results.variant == "dassdp") & (results.epoch >= SETUPS["digits"].warmup_epochs)]
    assert after_warmup.gate_k.notna().all()
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary.variant) == {"baseline", "dassdp", "gate_off"}
