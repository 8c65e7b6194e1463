"""The HTML report without a browser: escaping, excerpt highlighting, fix diff, measured results, summary,
environment and self-containment. tests/test_report_browser.py runs it in Chromium."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from advisor.report import render
from advisor.report.html import ticks
from advisor.types import Excerpt, ScanResult
from report_samples import EVIL, LOSS, NOT_EQUIVALENT, sample_result


@pytest.fixture
def page() -> str:
    return render("html", sample_result())


def card(page: str, anchor_path: str) -> str:
    """The <li> of the finding at this path."""
    for chunk in page.split('<li class="finding')[1:]:
        if f'data-file="{anchor_path}"' in chunk:
            return chunk.split("</li>")[0]
    raise AssertionError(f"no finding for {anchor_path}")


def with_result_on_train(v) -> ScanResult:
    result = sample_result()
    result.findings = [f.with_verifications((v,)) if f.path == "src/train.py" else f for f in result.findings]
    return result


def test_self_contained_nothing_fetched(page):
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"""\b(src|href)=["'](?!#)""", page)  # only in-page anchors
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # and the page forbids fetching anything, should a user string slip through
    assert page.count("<script>") == 1 and page.count("</script>") == 1


def test_user_text_is_escaped_everywhere():
    result = sample_result()
    f = next(f for f in result.findings if f.path == "src/train.py")
    evil = replace(
        f,
        path=f"src/{EVIL}.py",
        message=f"message {EVIL}",
        excerpt=Excerpt(f.excerpt.first_line, tuple(line + f"  # {EVIL}" for line in f.excerpt.lines)),
    )
    result.findings = [evil]
    result.environment = {"cpu": EVIL}
    out = render("html", result)
    assert EVIL not in out and "<script>alert" not in out
    assert out.count("</script>") == 1 and out.count("<script>") == 1
    assert html.escape(EVIL, quote=False) in out


def test_excerpt_marks_the_flagged_columns(page):
    chunk = card(page, "src/mm.py")
    flagged = re.findall(r'<span class="line flagged"><span class="ln" aria-hidden="true">(\d+)</span>(.*?)<mark>(.*?)</mark>', chunk)
    assert [(n, before) for n, before, _ in flagged] == [("5", "    return ")]
    assert html.unescape(flagged[0][2]).endswith("for r in A]")
    numbers = re.findall(r'<span class="ln" aria-hidden="true">(\d+)</span>', chunk)
    assert numbers == ["3", "4", "5"]  # two lines of context before, none after the end of the file


def test_fix_diff_and_measured_result(page):
    chunk = card(page, "src/mm.py")
    assert '<span class="d-add">+    return np.asarray(A) @ np.asarray(B)' in chunk
    assert '<span class="d-del">-    return [[sum(' in chunk
    assert "unsafe: review, applied by --unsafe-fixes" in chunk
    assert "5,210x (interval 5,110x–5,310x)" in chunk
    assert "median 1.37 s, IQR 30 ms, 4 runs" in chunk and "median 263 µs" in chunk
    assert "cpu (Test CPU)" in chunk and "n=200 (defaults)" in chunk and "same results" in chunk
    bars = [int(w) for w in re.findall(r'<rect x="70" y="\d+" width="(\d+)"', chunk)]
    assert bars[0] == 218 and 2 <= bars[1] < 5  # before ends where its IQR whisker leaves room; after is 5,210x shorter
    whiskers = re.findall(r'<path d="M(\d+) \d+H(\d+)M', chunk)
    assert [(int(a) - 70, int(b) - 70) for a, b in whiskers][0] == (215, 220)  # median 1.37 s ± IQR 30 ms / 2
    assert 'data-gain="5210.0"' in chunk


def test_unmeasured_and_not_equivalent_claim_nothing():
    out = render("html", with_result_on_train(NOT_EQUIVALENT))
    chunk = card(out, "src/train.py")
    assert "different results: no gain claimed" in chunk and "<svg" not in chunk and 'data-gain="0' in chunk


def test_loss_pairs_chart_the_losses():
    chunk = card(render("html", with_result_on_train(LOSS)), "src/train.py")
    assert "mean held-out loss (lower is better)" in chunk and ">0.52</text>" in chunk and ">0.31</text>" in chunk
    assert ">fixed LR</text>" in chunk and ">scheduler</text>" in chunk, "the pair's LABELS name the bars"


def test_summary_counts_and_no_total_gain(page):
    by_rule = page.split('id="by-rule"')[1].split("</table>")[0]
    assert re.search(r'data-value="ADV103">ADV103</button></td><td>[^<]+</td><td class="num">2</td>', by_rule)
    assert re.search(r'data-value="ADV401">ADV401</button></td><td>[^<]+</td><td class="num">1</td><td>5,210x on cpu</td>', by_rule)
    # unrelated micro-benchmarks added up read as the speed-up of a training run, which nothing measured
    assert "Total measured gain" not in page and "total-gain" not in page
    by_file = page.split('id="by-file"')[1].split("</table>")[0]
    assert by_file.count("<tr>") == 4  # header + 3 files
    assert 'notebook cell 3' in card(page, "nb/explore.ipynb")


def test_environment_block(page):
    env = page.split('id="env-heading"')[1]
    for key, value in sample_result().environment.items():
        assert f"<dt>{key}</dt><dd>{value}</dd>" in env


def test_no_findings_page():
    out = render("html", ScanResult(files_scanned=2))
    assert "No findings." in out and "Nothing measured in this run" in out and "Not recorded in this run" in out


def test_ticks_escapes_and_formats_code():
    assert str(ticks("use `a < b` now")) == "use <code>a &lt; b</code> now"
    assert str(ticks("odd ` tick <x>")) == "odd ` tick &lt;x&gt;"


def test_scan_writes_html(tmp_path, run_cli):
    (tmp_path / "evil.py").write_text(
        f"# {EVIL}\ndef mm(A, B):\n    return [[sum(a * b for a, b in zip(r, c)) for c in zip(*B)] for r in A]  # {EVIL}\n"
    )
    proc = run_cli("scan", ".", "--format", "html", "-o", "report.html", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = (tmp_path / "report.html").read_text()
    assert EVIL not in out and "python-matmul" in out and out.count("</script>") == 1


def test_files_that_could_not_be_analysed_are_listed():
    from advisor.types import FileError

    out = render("html", ScanResult(errors=[FileError("src/<bad>.py", "syntax error at line 1 — fix the syntax")]))
    assert "Files that could not be analysed" in out and "src/&lt;bad&gt;.py" in out and "1 file could not be analysed" in out
