"""Where a run happened, for the reports that show it (JSON, SARIF, HTML).

Package metadata and /proc only: `advisor scan` must not import torch or numpy to learn their versions.
GPU names measured by the verifier win over the driver's list, since they say what the figures ran on.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone

from advisor import __version__
from advisor.types import ScanResult


def collect(result: ScanResult) -> dict[str, str]:
    from advisor.verify.environment import environment  # standard library only, despite the package

    env = environment()
    measured_gpus = sorted({v.device_name for f in result.findings for v in f.verifications if v.device == "cuda" and v.device_name})
    return {
        "advisor": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "torch": env.torch,
        "numpy": env.numpy,
        "cpu": env.cpu,
        "gpu": ", ".join(measured_gpus or env.gpus) or "none",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
