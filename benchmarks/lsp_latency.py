"""Language-server latency: from a `didChange` of a 5,000-line file to its `publishDiagnostics`.

Starts `python -m advisor server` with a real LSP client (pytest-lsp's, over stdio), opens a generated
5,000-line training module, then edits it repeatedly and times each change until fresh diagnostics
arrive. Three kinds of edit, each made and undone in turn: a line inside the training loop in the
middle of the file, a line appended at its end, and the file's first import. Prints the median and
90th percentile per kind and over all, next to what the same run measured in-process: one whole
analysis, one incremental analysis of the in-function edit, and one libcst parse of the whole text
(the parse floor: the ratio matters more than the absolute figure on a shared machine), with the load
average before and after. Target: under 300 ms.

    python3 benchmarks/lsp_latency.py [--changes 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_HEADER = '''"""A generated training module: many ordinary helpers and one training loop with known findings."""

import math

import torch
from torch import nn
from torch.utils.data import DataLoader

'''

_HELPER = '''

def block_{i}(x, weight, bias, scale={i}):
    """Helper {i}: ordinary tensor code that no rule should report."""
    y = torch.matmul(x, weight) + bias
    y = torch.relu(y) * scale
    if y.dim() > 2:
        y = y.flatten(1)
    total = 0.0
    for k in range(3):
        total = total + math.sqrt(k + scale)
    norm = y.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    y = y / norm
    out = {{"value": y, "total": total, "name": "block_{i}"}}
    return out["value"] * out["total"]
'''

_LOOP = '''

def train(model, dataset, device):
    model = nn.DataParallel(model)
    loader = DataLoader(dataset, shuffle=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(30):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
'''


def five_thousand_lines() -> str:
    """A deterministic module of at least 5,000 lines with a training loop in the middle."""
    helpers = [_HELPER.format(i=i) for i in range(340)]
    text = _HEADER + "".join(helpers[:170]) + _LOOP + "".join(helpers[170:])
    assert len(text.splitlines()) >= 5000
    return text


def edits(text: str) -> dict[str, tuple[str, str]]:
    """Per kind of edit: the text with the edit made, and the text that undoes it."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "loss.backward()" in line)
    in_function = "".join(lines[:at] + ["            print(epoch)\n"] + lines[at:])
    return {
        "inside one function": (in_function, text),
        "appended at the end": (text + "\nmodel = nn.DataParallel(model)\n", text),
        "first import": (text.replace("import math\n", "import math as m\n", 1), text),
    }


async def _measure(changes: int) -> dict[str, list[float]]:
    from lsprotocol import types
    from pytest_lsp import ClientServerConfig, client_capabilities

    import tempfile

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    config = ClientServerConfig(server_command=[sys.executable, "-m", "advisor", "server"], server_env=env)
    client = await config.start()
    folder = Path(tempfile.mkdtemp(prefix="advisor-lsp-"))
    await client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code"), root_uri=folder.as_uri()))
    text = five_thousand_lines()
    uri = (folder / "big.py").as_uri()

    async def settle() -> None:
        while uri not in client.diagnostics:
            await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 300)

    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await settle()
    times: dict[str, list[float]] = {}
    version = 1
    for n in range(changes):
        for kind, pair in edits(text).items():
            for edited in pair:  # the edit, then its undo: both are edits of this kind
                version += 1
                client.diagnostics.pop(uri, None)
                start = time.perf_counter()
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)],
                ))
                await settle()
                times.setdefault(kind, []).append(time.perf_counter() - start)
                codes = {d.code for d in client.diagnostics[uri]}
                assert ("ADV501" in codes) and (len(client.diagnostics[uri]) > 1), codes
    await client.shutdown_session()
    await client.stop()
    return times


def _in_process(repeats: int) -> tuple[list[float], list[float], list[float]]:
    import libcst

    from advisor.config import Config
    from advisor.incremental import IncrementalParser
    from advisor.lsp_analysis import analyse_python, pause_collector, settle_after_analysis

    text = five_thousand_lines()
    edited = edits(text)["inside one function"][0]
    whole, incremental, parse = [], [], []
    parser = IncrementalParser()
    analyse_python(text, None, Config(), parser)
    for n in range(repeats):
        t = time.perf_counter()
        analyse_python(text, None, Config())
        whole.append(time.perf_counter() - t)
        t = time.perf_counter()
        pause_collector()  # as the server runs it: collected after the diagnostics are out
        analyse_python(edited if n % 2 == 0 else text, None, Config(), parser)
        incremental.append(time.perf_counter() - t)
        settle_after_analysis()
        t = time.perf_counter()
        libcst.parse_module(text)
        parse.append(time.perf_counter() - t)
    return whole, incremental, parse


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10)[8] if len(ordered) > 1 else ordered[0]
    return f"median {statistics.median(ordered) * 1e3:.0f} ms, p90 {p90 * 1e3:.0f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=4, help="rounds: each makes and undoes one edit of each kind")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    lines = len(five_thousand_lines().splitlines())
    load_before = os.getloadavg()[0]
    latency = asyncio.run(_measure(args.changes))
    whole, incremental, parse = _in_process(5)
    everything = [t for times in latency.values() for t in times]
    print(f"file: {lines} lines; cores: {os.cpu_count()}; load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    for kind, times in latency.items():
        print(f"didChange -> publishDiagnostics, {kind + ':':22} {_ms(times)}")
    print(f"didChange -> publishDiagnostics, all edits:            {_ms(everything)}  (target < 300 ms)")
    print(f"in-process, whole analysis:                            {_ms(whole)}")
    print(f"in-process, incremental analysis (one function):       {_ms(incremental)}")
    print(f"libcst parse of the whole file (floor):                {_ms(parse)}")
    print(f"latency / parse floor (medians): {statistics.median(everything) / statistics.median(parse):.2f}x")


if __name__ == "__main__":
    main()
