#!/usr/bin/env bash
# GPU check for a session with the device tool, run as one command from the repository root:
#   bash benchmarks/gpu_check.sh            (items 1-4 below)
#   bash benchmarks/gpu_check.sh replicas   (item 5, a second command: it builds 4 cuda projects)
# 1. installs what is missing (brian2, brian2cuda, ...) from wheels carried in .whl/;
# 2. runs the DA-SSDP demo network on cuda_standalone and cpp_standalone with the same
#    spike-generator input and checks that the weights agree to 1e-6;
# 3. runs a shortened DA-SSDP run of the demo study's Brian2 phase on both targets (the study
#    file's one-field switch) and compares its tables;
# 4. times static synapses against DA-SSDP at 1e6 synapses on cuda_standalone and cpp_standalone.
# About 5 to 7 minutes on an H200 machine with 16 cores (most of it nvcc): give the run 8.
# 5. (replicas) 4 DA-SSDP runs as replicas of one cuda_standalone simulation against the same runs
#    alone on numpy, then R = 1, 32 and 1000 runs in one simulation: times and synaptic events per
#    second (benchmarks/gpu_replicas.py). Not yet run on a GPU: give it the rest of the session.
#
# Prepare the wheels here first (the device machine has Python 3.12 with torch, numpy, scipy,
# pandas, scikit-learn, cython, sympy, jinja2, pyparsing, but not brian2/brian2cuda/nir/pydantic/mnist1d):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       brian2==2.10.1 brian2cuda==1.0b1 nir pydantic pydantic-core annotated-types typing-inspection \
#       typing-extensions mnist1d
# and name .whl in the device run's `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import brian2, brian2cuda" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "brian2/brian2cuda are missing and no wheels were carried in .whl/" >&2
        exit 2
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader || true
nvcc --version | tail -n 2 || true
if [ "${1:-}" = replicas ]; then
    python3 benchmarks/gpu_replicas.py
else
    python3 benchmarks/gpu_check.py
fi
