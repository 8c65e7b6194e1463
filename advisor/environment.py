"""What the machine offers, learnt without importing torch or numpy: the one environment probe, used by
the verifier (cache keys, device choice), its child (the CPU model it ran on) and the reports.

Versions come from package metadata, the CPU model from /proc/cpuinfo, and CUDA presence from the
NVIDIA driver's /proc entries; the child still asks torch itself before measuring on CUDA.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.types import ScanResult

INSTALL_HINT = "install advisor[verify] (torch and numpy) to measure"


@dataclass(frozen=True)
class Environment:
    torch: str
    numpy: str
    cpu: str
    gpus: tuple[str, ...]

    @property
    def has_cuda(self) -> bool:
        return bool(self.gpus)


def frameworks_missing() -> list[str]:
    return [name for name in ("torch", "numpy") if importlib.util.find_spec(name) is None]


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> tuple[str, ...]:
    """GPU models the NVIDIA driver reports; ADVISOR_NO_CUDA=1 hides them (for tests and comparisons)."""
    if os.environ.get("ADVISOR_NO_CUDA"):
        return ()
    root = Path("/proc/driver/nvidia/gpus")
    names = []
    try:
        for info in sorted(root.glob("*/information")):
            for line in info.read_text(encoding="utf-8").splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
    except OSError:
        return ()
    return tuple(names)


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(torch=_version("torch"), numpy=_version("numpy"), cpu=cpu_model(), gpus=_gpus())


def run_environment(result: "ScanResult") -> dict[str, str]:
    """Where a run happened, for the reports that show it (JSON, SARIF, HTML). GPU names the verifier
    measured on win over the driver's list, since they say what the figures ran on."""
    from advisor import __version__

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
