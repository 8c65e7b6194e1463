"""Reporters: each turns one ScanResult into text. None re-derives data; all read the same Findings."""

from __future__ import annotations

import importlib
from typing import Callable

from advisor.types import ScanResult

# format name -> "module:function"; modules load lazily so `scan --format text` never imports jinja2.
FORMATS: dict[str, str] = {
    "text": "advisor.report.text:render",
    "concise": "advisor.report.text:render_concise",
    "json": "advisor.report.json_report:render",
    "sarif": "advisor.report.sarif:render",
    "github": "advisor.report.github:render",
    "gitlab": "advisor.report.gitlab:render",
    "html": "advisor.report.html:render",
}


def renderer(fmt: str) -> Callable[..., str]:
    module, _, func = FORMATS[fmt].partition(":")
    render: Callable[..., str] = getattr(importlib.import_module(module), func)
    return render


def render(fmt: str, result: ScanResult, **options: object) -> str:
    return renderer(fmt)(result, **options)
