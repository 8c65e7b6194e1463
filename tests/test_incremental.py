"""The language server's incremental parse: after any sequence of edits, the tree, the context and the
findings are those of a whole parse of the same text, and edits inside one statement re-parse only it."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.config import Config
from advisor.incremental import IncrementalParser
from advisor.lsp_analysis import analyse_python
from advisor.context import build_context
from advisor.source import SourceError

REPO = Path(__file__).resolve().parent.parent
DEMO = (REPO / "fixtures" / "demo" / "train.py").read_text()


def _same_tree(parser: IncrementalParser, text: str) -> None:
    """The incremental parse of `text` is a whole parse of it: same tree, same context, same lines."""
    parsed = parser.parse(text, "train.py")
    whole = cst.parse_module(text)
    assert parsed.module.code == whole.code  # the text itself, except where libcst drops a line (a lone `\`)
    assert parsed.module.deep_equals(whole)
    again = build_context(parsed.module, text, "train.py")
    assert parsed.ctx.parents == again.parents
    assert {k: [id(n) for n in v] for k, v in parsed.ctx.nodes_by_type.items()} == {k: [id(n) for n in v] for k, v in again.nodes_by_type.items()}
    assert parsed.ctx.imports == again.imports and parsed.ctx.star_imports == again.star_imports
    assert {k: [id(n) for n in v] for k, v in parsed.ctx.bindings.items()} == {k: [id(n) for n in v] for k, v in again.bindings.items()}
    assert {k: [id(n) for n in v] for k, v in parsed.ctx.functions.items()} == {k: [id(n) for n in v] for k, v in again.functions.items()}
    # loop facts derived per statement and kept with it (advisor.loops) match those of the whole file
    (loops, funcs), (loops_again, funcs_again) = parsed.ctx.loops.call_sites(), again.loops.call_sites()
    assert {k: [(id(loop), depth) for loop, depth in v] for k, v in loops.items()} == {k: [(id(loop), depth) for loop, depth in v] for k, v in loops_again.items()}
    assert {k: (id(f), depth) for k, (f, depth) in funcs.items()} == {k: (id(f), depth) for k, (f, depth) in funcs_again.items()}
    for loop in again.all_loops():
        assert parsed.ctx.loop_facts(loop) == again.loop_facts(loop)
        assert [id(c) for c in parsed.ctx.calls_in_body(loop)] == [id(c) for c in again.calls_in_body(loop)]
    if whole.code != text:
        assert parsed.starts is None  # lines would be counted in a text the tree does not hold
    if parsed.starts is not None:
        header = "".join(parsed.module.code_for_node(line) for line in parsed.module.header)
        line = header.count("\n")
        for stmt, start in zip(parsed.module.body, parsed.starts):
            assert start == line
            line += parsed.module.code_for_node(stmt).count("\n")


def _edits(base: str, steps: list[tuple[str, str]]) -> list[str]:
    """Texts after each (old, new) replacement, applied one after another (each old must be present)."""
    texts = [base]
    for old, new in steps:
        assert old in texts[-1], old
        texts.append(texts[-1].replace(old, new, 1))
    return texts


IMPORTS = [
    ("import torch\n", "import torch as T\n"),  # every torch.* call stops resolving
    ("import torch as T\n", "import torch\n"),
    ("from torch.utils.data import DataLoader, Dataset\n", ""),  # DataLoader no longer torch's
    ("from PIL import Image\n", "from PIL import Image\nfrom torch.utils.data import DataLoader, Dataset\n"),
    ("from pathlib import Path\n", "from pathlib import Path\nfrom pytorch_lightning import Trainer\n"),  # a framework
    ("from pytorch_lightning import Trainer\n", ""),
]
CALLED_FROM_A_LOOP = [
    # forward() runs every step because the loop calls model(images): edit its body, then its name
    ("noise = torch.randn(x.shape).to(x.device)", "noise = torch.randn(x.shape, device=x.device)"),
    ("noise = torch.randn(x.shape, device=x.device)", "noise = torch.randn(x.shape).to(x.device)"),
    ("    def forward(self, x):", "    def forward_disabled(self, x):"),
    ("    def forward_disabled(self, x):", "    def forward(self, x):"),
    # evaluate() is ADV304's validation call: the loop stops calling it, then calls it again
    ("        accuracy = evaluate(model, val_loader)", "        accuracy = 0.0"),
    ("        accuracy = 0.0", "        accuracy = evaluate(model, val_loader)"),
    # a word elsewhere in the file that ADV304 reads from the whole text
    ("def warm_up(", "def best_warm_up("),
    ("def best_warm_up(", "def warm_up("),
    # the dataset class that ADV203 looks into, from a different statement than the DataLoader
    ('image = image[:, ::-1]', 'image = image[::-1]'),
    ("Image.open(path)", "Image.open(str(path))"),
]
LAYOUT = [
    ("def similarity(a, b):\n", "def similarity(a, b):\n    # a comment inside\n"),
    ("    return table\n", "    return table\n\n    # an indented comment after the block\n"),  # belongs to the block
    ("    return table\n\n    # an indented comment after the block\n", "    return table\n   \n\t\n"),  # whitespace-only lines
    ('"""A small image', '# a header comment\n\n"""A small image'),  # the module header
    ("\n\ndef main():", "\n\n@staticmethod\n# between a decorator and its def\ndef main():"),
    ("def synthetic_leaves(root, per_class=24):", "def synthetic_leaves(root, per_class=24):  # trailing"),
    ("            main()\n", "            main()"),  # no final newline
    ("            main()", "            main()\nx = 1; y = 2\n"),  # a statement line with two statements
    ("\nx = 1; y = 2\n", "\n"),
    ("def evaluate(model, loader):", 'def evaluate(model, loader):\n    """unclosed'),  # a syntax error...
    ('def evaluate(model, loader):\n    """unclosed', "def evaluate(model, loader):"),  # ...and back
    ("from pathlib import Path\n", "\\\nfrom pathlib import Path\n"),  # a lone backslash line libcst drops
    ("\\\nfrom pathlib import Path\n", "from pathlib import Path\n"),
    ('"""A small image', 'x = 1\n"""A small image'),  # a new first statement
    ('x = 1\n"""A small image', '"""A small image'),
]


def _check_sequence(texts: list[str]) -> int:
    """Each text through one parser and through a whole parse; returns the statements reused in all."""
    parser = IncrementalParser()
    reused = 0
    for text in texts:
        try:
            cst.parse_module(text)
        except cst.ParserSyntaxError:
            assert analyse_python(text, None, Config(), parser) == analyse_python(text, None, Config())
            continue
        _same_tree(parser, text)
        reused += parser.reused
        assert analyse_python(text, None, Config(), parser) == analyse_python(text, None, Config())
    return reused


@pytest.mark.parametrize("steps", [IMPORTS, CALLED_FROM_A_LOOP, LAYOUT], ids=["imports", "called-from-a-loop", "layout"])
def test_findings_after_each_edit_equal_a_whole_scan_of_the_same_text(steps):
    texts = _edits(DEMO, steps)
    assert len({frozenset(analyse_python(t, None, Config()).findings) for t in texts}) > 2  # the edits matter
    assert _check_sequence(texts) > 0


def test_an_edit_inside_one_function_parses_only_that_function():
    parser = IncrementalParser()
    parser.parse(DEMO, "train.py")
    statements = len(parser.chunks)
    parser.parse(DEMO.replace("correct = 0\n", "correct = 0\n    total = 0\n"), "train.py")
    assert parser.reused == statements - 1


def test_crlf_and_tab_indented_files_match_a_whole_parse():
    crlf = DEMO.replace("\n", "\r\n")
    tabs = DEMO.replace("    ", "\t")
    mixed = "def a():\n\tpass\n\n\ndef b():\n    pass\n"  # chunks disagree on the default indentation
    for text, edit in ((crlf, ("correct = 0", "correct = 1")), (tabs, ("correct = 0", "correct = 1")), (mixed, ("pass\n\n", "return\n\n"))):
        parser = IncrementalParser()
        _same_tree(parser, text)
        _same_tree(parser, text.replace(*edit, 1))


LINES = st.sampled_from([
    "", "   ", "# c", "    # indented", "x = 1", "    y = 2", "def f():", "class C:", "    def g(self):",
    "        return 1", "@dec", "if x:", "else:", "    pass", '"""', "import torch", "for i in range(3):",
    "    loss.backward()", "(", ")", "\\", "x = \\",
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 3), LINES), min_size=1, max_size=6))
def test_random_line_edits_parse_like_a_whole_parse(edits):
    """Lines inserted, replaced or deleted anywhere (blocks, comments, unclosed brackets and strings)."""
    parser = IncrementalParser()
    parser.parse(DEMO, "train.py")
    lines = DEMO.split("\n")
    for where, how, line in edits:
        at = where % (len(lines) + 1)
        if how == 0:
            lines.insert(at, line)
        elif how == 1 and at < len(lines):
            lines[at] = line
        elif at < len(lines):
            del lines[at]
        text = "\n".join(lines)
        try:
            cst.parse_module(text)
        except cst.ParserSyntaxError:
            with pytest.raises(SourceError):  # never a tree where the whole parse finds none
                parser.parse(text, "train.py")
            continue
        _same_tree(parser, text)
