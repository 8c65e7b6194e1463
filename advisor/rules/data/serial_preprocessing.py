"""ADV207: every item of a dataset decoded or preprocessed one after another in a Python loop."""

from __future__ import annotations

import libcst as cst

from advisor.syntax import call_attr, int_value, walk
from advisor.rule import Rule, RuleDocs
from advisor.types import Confidence, Severity

# Per-item work that costs milliseconds: decoding images, audio, volumes.
DECODERS = frozenset(
    {
        "PIL.Image.open",
        "cv2.imread",
        "imageio.imread",
        "imageio.v2.imread",
        "imageio.v3.imread",
        "skimage.io.imread",
        "librosa.load",
        "soundfile.read",
        "torchaudio.load",
        "nibabel.load",
        "pydicom.dcmread",
        "pydicom.read_file",
        "matplotlib.pyplot.imread",
    }
)
# A slice this short is a look at a few samples (plotting), not preprocessing the data set.
FEW = 16


class SerialPreprocessing(Rule):
    code = "ADV207"
    name = "serial-preprocessing"
    summary = "Every item decoded one after another in a Python loop (one CPU core)"
    message = "Decode the items in parallel: `multiprocessing.Pool().map(...)` or DataLoader workers"
    severity = Severity.INFO
    why = (
        "Decoding images or audio is CPU-bound and independent per item, but a Python loop runs it on one "
        "core; the other cores idle while the data set is prepared."
    )
    suggestion = "move the per-item work into a function and run `with multiprocessing.Pool() as pool: items = pool.map(load, paths)` (or a `Dataset` with `DataLoader(num_workers=...)`)"
    triggers = ("open", "imread", "load", "read")
    docs = RuleDocs(
        what="Finds a `for` loop that decodes a file per item (`PIL.Image.open`, `cv2.imread`, `imageio.imread`, "
        "`librosa.load`, `torchaudio.load`, `nibabel.load`, ...) on every iteration and collects the result "
        "(`items.append(...)` or `array[i] = ...`), outside any training loop and outside a Dataset's "
        "`__getitem__` (there ADV203 asks for loader workers). Loops over a short literal slice "
        "(`paths[:8]`, a few samples to plot) are not reported. Advice (info): the gain depends on the "
        "cores available and on the per-item cost.",
        why="Per-item decoding is independent work, the textbook case for splitting data over processes: "
        "`multiprocessing.Pool.map` or `concurrent.futures.ProcessPoolExecutor` run it on every core "
        "(threads do not help CPU-bound Python because of the GIL). For training data, a Dataset with "
        "DataLoader workers does the same while the model trains.",
        example="""
            import numpy as np
            from PIL import Image

            images = []
            for path in paths:
                images.append(np.asarray(Image.open(path).convert("RGB").resize((224, 224))))
        """,
        use_instead="""
            import multiprocessing

            import numpy as np
            from PIL import Image

            def load(path):
                return np.asarray(Image.open(path).convert("RGB").resize((224, 224)))

            with multiprocessing.Pool() as pool:
                images = pool.map(load, paths, chunksize=16)
        """,
        references=(
            "Python docs: multiprocessing — Using a pool of workers",
            "PyTorch docs: torch.utils.data, Multi-process data loading",
            "PyTorch Performance Tuning Guide: enable asynchronous data loading and augmentation",
        ),
    )

    def visit_For(self, node: cst.For) -> None:
        if self._few(node.iter) or self.ctx.loop_facts(node).is_training_loop or self.ctx.in_test_function(node):
            return
        func = self.ctx.enclosing_function(node)
        if func is not None and func.name.value == "__getitem__":
            return
        if any(isinstance(a, (cst.For, cst.While)) and self.ctx.loop_facts(a).is_training_loop for a in self.ctx.ancestors(node)):
            return
        decoder = self._decodes(node)
        if decoder is None or not self._collects(node):
            return
        self.report(
            node,
            f"Decode the items in parallel: this loop runs `{decoder}` for one item at a time on one core; use `multiprocessing.Pool().map(...)` or DataLoader workers",
            confidence=Confidence.MEDIUM,
        )

    def _decodes(self, loop: cst.For) -> str | None:
        for call in self.ctx.calls_in_body(loop):
            q = self.ctx.call_qualname(call)
            if q in DECODERS and not self.ctx.is_conditional_within(call, loop):
                return q.rsplit(".", 1)[-1] if q != "PIL.Image.open" else "Image.open"
        return None

    def _collects(self, loop: cst.For) -> bool:
        """The loop keeps each result: `xs.append(...)`, `xs += [...]` or `array[i] = ...`."""
        for node in walk(loop.body):
            if isinstance(node, cst.Call) and call_attr(node) == "append":
                return True
            if isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Subscript):
                return True
        return False

    @staticmethod
    def _few(iterable: cst.BaseExpression) -> bool:
        """`paths[:8]`, `range(4)`, or `range(n)` over a count that is not a collection's length (frames of
        a progress animation, one image per epoch): a handful of items, not a data set."""
        if isinstance(iterable, cst.Subscript) and len(iterable.slice) == 1 and isinstance(iterable.slice[0].slice, cst.Slice):
            upper = int_value(iterable.slice[0].slice.upper)
            return upper is not None and upper <= FEW
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range" and len(iterable.args) == 1:
            n = int_value(iterable.args[0].value)
            if n is not None:
                return n <= FEW
            bound = iterable.args[0].value
            return not (isinstance(bound, cst.Call) and isinstance(bound.func, cst.Name) and bound.func.value == "len")
        return False
