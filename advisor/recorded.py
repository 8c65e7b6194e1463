"""Figures measured on another machine and shipped with advisor (`advisor/recorded.json`, written by
`benchmarks/record_figures.py` from a saved `scan --verify` run). Shown only with their device, machine
and date, where this machine has no figure of its own: never as a prediction for the user's code."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from advisor.types import Verification

DATA = Path(__file__).with_name("recorded.json")


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    try:
        data = json.loads(DATA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_results(code: str) -> list[Verification]:
    """The recorded results for one rule, one per device (empty when none were recorded)."""
    out = []
    for item in _data().get("results", {}).get(code, []):
        try:
            out.append(Verification.from_dict(item))
        except (TypeError, ValueError, KeyError):
            continue
    return out


def recorded_machine() -> str:
    """`NVIDIA H100 80GB HBM3 with Intel(R) Xeon(R) Processor, torch 2.11.0, 2026-11-25 09:45 UTC`."""
    env = _data().get("environment", {})
    machine = " with ".join(str(env[k]) for k in ("gpu", "cpu") if env.get(k))
    return ", ".join(filter(None, [machine, f"torch {env['torch']}" if env.get("torch") else "", str(env.get("date", ""))]))
