"""`import dassdp.analysis` (and its array modules) must not pull in Brian2 or torch."""

import subprocess
import sys


def test_analysis_imports_neither_brian2_nor_torch():
    code = (
        "import sys\n"
        "import dassdp.analysis, dassdp.analysis.spikes, dassdp.analysis.synchrony\n"
        "import dassdp.analysis.pairwise, dassdp.analysis.population, dassdp.analysis.continual\n"
        "import dassdp.analysis.report, dassdp.analysis.stats, dassdp.analysis.summary\n"
        "import dassdp.analysis.gate_diagnostics\n"
        "from dassdp.analysis.summary import calibrated_scales, scenario\n"
        "scenario('.'), calibrated_scales('.')\n"
        "heavy = [m for m in ('brian2', 'torch', 'matplotlib', 'seaborn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
