"""Report speed: time to render a 2,000-finding run in each format, and to open, filter, search and sort
its HTML report in headless Chromium.

Run: python benchmarks/report_speed.py [--findings 2000] [--runs 3]
Prints medians over the runs; asserts nothing (tests/test_report_browser.py holds the generous limits).
Needs chromium for the browser half (`apt-get install -y chromium`); without it, prints the render times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from advisor.report import render  # noqa: E402
from chromium import Chromium, find_chromium  # noqa: E402
from report_samples import many_findings  # noqa: E402

# One user action, then a forced layout: the time until the page could paint the result.
ACTION = """(function () {{
  var t0 = performance.now();
  {body}
  document.body.offsetHeight;
  return performance.now() - t0;
}})()"""
SELECT = 'var s = document.getElementById("{id}"); s.value = {value!r}; s.dispatchEvent(new Event("change"));'
SEARCH = 'var t = document.getElementById("filter-text"); t.value = {value!r}; t.dispatchEvent(new Event("input"));'
ACTIONS = [
    ("filter rule = ADV401", SELECT.format(id="filter-rule", value="ADV401")),
    ("filter file", SELECT.format(id="filter-file", value="pkg1/module_001.py")),
    ("reset filters", 'document.getElementById("reset").click();'),
    ("sort by measured speed-up", SELECT.format(id="sort", value="gain")),
    ("sort by rule", SELECT.format(id="sort", value="rule")),
    ("filter severity = warning", SELECT.format(id="filter-severity", value="warning")),
]


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    result = many_findings(args.findings)
    print(f"{args.findings} findings over {len({f.path for f in result.findings})} files, median of {args.runs} runs")
    for fmt in ("json", "sarif", "github", "html"):
        seconds = timed(lambda: render(fmt, result), args.runs)
        print(f"  render {fmt:<7} {seconds * 1000:8.0f} ms   {len(render(fmt, result).encode()) / 1e6:6.2f} MB")

    executable = find_chromium()
    if executable is None:
        print("chromium not found: install it (`apt-get install -y chromium`) to time the page in a browser")
        return
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render("html", result), encoding="utf-8")
        loads, actions = [], {name: [] for name, _ in ACTIONS}
        with Chromium(executable) as browser:
            for _ in range(args.runs):
                loads.append(browser.navigate(page.as_uri()))
                browser.evaluate("document.body.offsetHeight")
                for name, body in ACTIONS:
                    actions[name].append(browser.evaluate(ACTION.format(body=body)))
                browser.evaluate('document.getElementById("reset").click()')
                search_ms = browser.evaluate(
                    "new Promise(function (done) { var count = document.getElementById('shown-count'); var t0 = performance.now();"
                    " var seen = new MutationObserver(function () { seen.disconnect(); document.body.offsetHeight; done(performance.now() - t0); });"
                    " seen.observe(count, {childList: true, characterData: true, subtree: true});"
                    + SEARCH.format(value="module_042")
                    + " })"
                )
                actions.setdefault("search text (incl. its 80 ms typing pause)", []).append(search_ms)
            problems = browser.problems()
        print(f"  open in chromium (navigate to load event)   {statistics.median(loads) * 1000:8.0f} ms")
        for name, values in actions.items():
            print(f"  {name:<44} {statistics.median(values):8.1f} ms")
        print(f"  console errors: {problems or 'none'}")


if __name__ == "__main__":
    main()
