"""`advisor server`: the language server (stdio) on pygls + lsprotocol, the `lsp` extra.

Diagnostics follow the buffer (open, change, save) for .py files and, through LSP notebook sync, for
notebook cells; code actions apply a finding's fix (safe, or marked unsafe) or add
`# advisor: ignore[CODE]`; hover shows the rule's page and what was measured here. Configuration is the
`[tool.advisor]` of the pyproject.toml nearest to each document, re-read when it changes.

Only this module imports pygls, so the scanner installs and runs without it.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from advisor import __version__
from advisor.config import ConfigError
from advisor.excerpt import split_lines
from advisor.incremental import IncrementalParser
from advisor.lsp_analysis import (
    Analysis, ConfigCache, analyse_cells, analyse_python, hover_markdown, ignore_edit, line_starts,
    offset_to_position, pause_collector, settle_after_analysis,
)
from advisor.types import Edit, Finding, Severity

SOURCE = "advisor"
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithCells(cells=[types.NotebookCellLanguage(language="python")], notebook="*")],
    save=True,
)


def uri_path(uri: str) -> Path | None:
    """The local file behind a `file:` URI; None for unsaved buffers and other schemes."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


@dataclass
class Target:
    """One unit the server analyses: a .py buffer, or a whole notebook (its cells in order)."""

    uri: str  # the text document, or the notebook document
    cell_uris: tuple[str, ...] = ()  # notebooks: the cell document of each cell, by index
    texts: tuple[str, ...] = ()  # the texts the findings' offsets refer to (the buffer, or each cell)
    analysis: Analysis = field(default_factory=Analysis)


class AdvisorServer(LanguageServer):
    """Keeps the last analysis of every open document; analysis runs on one worker thread and a burst
    of changes to one document is analysed once, at its latest version."""

    def __init__(self) -> None:
        super().__init__("advisor", __version__, notebook_document_sync=NOTEBOOK_SYNC)
        self.configs = ConfigCache()
        self.targets: dict[str, Target] = {}  # keyed by document or notebook URI
        self.cell_owner: dict[str, str] = {}  # cell URI -> notebook URI
        # per document or notebook: its last parse, so a change re-parses only the statements it touched
        self.parsers: dict[str, IncrementalParser] = {}
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="advisor-analysis")
        self._dirty: set[str] = set()
        self._running: set[str] = set()
        self._config_errors: set[str] = set()

    # ------------------------------------------------------------------ scheduling
    def request(self, uri: str) -> None:
        """Analyse `uri` (a .py document or a notebook) soon; coalesces requests made while one runs."""
        self._dirty.add(uri)
        if uri not in self._running:
            self._running.add(uri)
            asyncio.get_running_loop().create_task(self._drain(uri))

    async def _drain(self, uri: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            while uri in self._dirty:
                self._dirty.discard(uri)
                job = self._snapshot(uri)
                if job is None:
                    return
                target, analyse = job
                config = self._config(uri)
                if config is None:
                    target.analysis = Analysis(skipped="configuration error")
                else:
                    target.analysis = await loop.run_in_executor(self.pool, _safely, analyse, config)
                    if target.analysis.skipped.startswith("internal error"):
                        self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=f"advisor: {target.analysis.skipped}"))
                try:
                    if uri not in self._dirty:  # a newer version would replace this result at once
                        self.targets[uri] = target
                        self.publish(target)
                finally:  # the collector paused for the analysis: collect after publishing, off the latency path
                    await loop.run_in_executor(self.pool, settle_after_analysis)
        finally:
            self._running.discard(uri)

    def _snapshot(self, uri: str) -> tuple[Target, Callable[[Any], Analysis]] | None:
        """The texts to analyse now (taken on the event loop), and the analysis to run on the worker."""
        path = uri_path(uri)
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            cells = [(cell.kind == types.NotebookCellKind.Code, cell.document) for cell in notebook.cells]
            texts = tuple(self.workspace.get_text_document(doc).source for _, doc in cells)
            pairs = [(code, text) for (code, _), text in zip(cells, texts)]
            parser = self.parsers.setdefault(uri, IncrementalParser())
            return Target(uri, tuple(doc for _, doc in cells), texts), lambda config: analyse_cells(pairs, path, config, parser)
        document = self.workspace.text_documents.get(unquote(uri)) or self.workspace.text_documents.get(uri)
        if document is None:
            return None
        text = document.source
        parser = self.parsers.setdefault(uri, IncrementalParser())
        return Target(uri, (), (text,)), lambda config: analyse_python(text, path, config, parser)

    def _config(self, uri: str) -> Any:
        """The document's configuration; a broken one is shown once (not per keystroke) and gives None."""
        root = uri_path(self.workspace.root_uri) if self.workspace.root_uri else None
        try:
            return self.configs.config_for(uri_path(uri), root)
        except ConfigError as exc:
            message = f"advisor: {exc}"
            if message not in self._config_errors:
                self._config_errors.add(message)
                self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
            return None

    # ------------------------------------------------------------------ diagnostics
    def publish(self, target: Target) -> None:
        analysis = target.analysis
        if not target.cell_uris:
            self._send(target.uri, self._diagnostics(target, analysis.findings, None, 0))
            return
        for index, cell_uri in enumerate(target.cell_uris):
            found = [f for f in analysis.findings if f.cell == index]
            self._send(cell_uri, self._diagnostics(target, found, index, index))

    def _send(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        version = self.workspace.get_text_document(uri).version if unquote(uri) in self.workspace.text_documents else None
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))

    def _diagnostics(self, target: Target, findings: list[Finding] | tuple[Finding, ...], cell: int | None, text_index: int) -> list[types.Diagnostic]:
        lines = split_lines(target.texts[text_index]) if target.texts else []
        out = [self._diagnostic(f, lines) for f in findings]
        problem = target.analysis.problem
        if problem is not None and problem.cell == cell:
            position = self._client_position(lines, problem.line, problem.column)
            out.append(types.Diagnostic(
                range=types.Range(position, position), message=problem.message, source=SOURCE, severity=types.DiagnosticSeverity.Error,
            ))
        return out

    def _client_position(self, lines: list[str], line: int, column: int) -> types.Position:
        """A code-point position in the units the client negotiated (UTF-16 unless it said otherwise)."""
        return self.workspace.position_codec.position_to_client_units(lines, types.Position(line=line, character=column))

    def _range(self, finding: Finding, lines: list[str]) -> types.Range:
        span = finding.span
        return types.Range(
            start=self._client_position(lines, span.line - 1, span.column - 1),
            end=self._client_position(lines, span.end_line - 1, span.end_column - 1),
        )

    def _diagnostic(self, finding: Finding, lines: list[str]) -> types.Diagnostic:
        severity = types.DiagnosticSeverity.Warning if finding.severity == Severity.WARNING else types.DiagnosticSeverity.Information
        return types.Diagnostic(
            range=self._range(finding, lines), message=finding.message, source=SOURCE, code=finding.code, severity=severity,
            data={"name": finding.name, "confidence": finding.confidence.value},
        )

    # ------------------------------------------------------------------ lookups for actions and hover
    def located(self, uri: str) -> tuple[Target, int | None] | None:
        """The target a document belongs to, and its cell index when it is a notebook cell."""
        owner = self.cell_owner.get(uri)
        if owner is not None and owner in self.targets:
            cells = self.targets[owner]
            return (cells, cells.cell_uris.index(uri)) if uri in cells.cell_uris else None
        target = self.targets.get(uri)
        return (target, None) if target is not None else None

    def findings_at(self, uri: str, rng: types.Range) -> tuple[Target, int | None, list[Finding]]:
        where = self.located(uri)
        if where is None:
            return Target(uri), None, []
        target, cell = where
        lines = split_lines(target.texts[cell or 0])
        hits = []
        for f in target.analysis.findings:
            if f.cell != cell:
                continue
            r = self._range(f, lines)
            if (r.start.line, r.start.character) <= (rng.end.line, rng.end.character) and (rng.start.line, rng.start.character) <= (r.end.line, r.end.character):
                hits.append(f)
        return target, cell, hits

    def text_edits(self, text: str, edits: tuple[Edit, ...]) -> list[types.TextEdit]:
        starts = line_starts(text)
        lines = split_lines(text)
        out = []
        for e in edits:
            a = offset_to_position(text, e.start, starts)
            b = offset_to_position(text, e.end, starts)
            out.append(types.TextEdit(
                range=types.Range(self._client_position(lines, *a), self._client_position(lines, *b)), new_text=e.replacement,
            ))
        return out


def _safely(analyse: Callable[[Any], Analysis], config: Any) -> Analysis:
    """On the worker thread: an internal error costs this document's diagnostics, never the server."""
    pause_collector()  # until settle_after_analysis, which `_drain` runs after publishing
    try:
        return analyse(config)
    except Exception as exc:
        return Analysis(skipped=f"internal error ({type(exc).__name__}: {exc})")


def code_actions(ls: AdvisorServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    target, cell, hits = ls.findings_at(uri, params.range)
    if not hits:
        return []
    text = target.texts[cell or 0]
    python = None
    if cell is not None:
        from advisor.notebook import python_lines

        python = "\n".join(python_lines(text)[0]) + "\n"
    by_diagnostic = {(d.code, d.range.start.line, d.range.start.character): d for d in params.context.diagnostics}
    actions: list[types.CodeAction] = []
    lines = split_lines(text)
    for f in hits:
        r = ls._range(f, lines)
        diagnostic = by_diagnostic.get((f.code, r.start.line, r.start.character))
        diagnostics = [diagnostic] if diagnostic is not None else None
        if f.fix is not None and f.fix.edits:
            title = f"Fix {f.code}: {f.fix.description}" + ("" if f.fix.safe else " (unsafe: review the change)")
            actions.append(types.CodeAction(
                title=title, kind=types.CodeActionKind.QuickFix, diagnostics=diagnostics, is_preferred=f.fix.safe,
                edit=types.WorkspaceEdit(changes={uri: ls.text_edits(text, f.fix.edits)}),
            ))
        ignore = ignore_edit(text, f.span.line, f.code, python)
        if ignore is not None:
            actions.append(types.CodeAction(
                title=f"Ignore {f.code} on this line (# advisor: ignore[{f.code}])", kind=types.CodeActionKind.QuickFix,
                diagnostics=diagnostics, edit=types.WorkspaceEdit(changes={uri: ls.text_edits(text, (ignore,))}),
            ))
    return actions


def hover(ls: AdvisorServer, params: types.HoverParams) -> types.Hover | None:
    point = types.Range(params.position, params.position)
    _, _, hits = ls.findings_at(params.text_document.uri, point)
    if not hits:
        return None
    body = "\n---\n\n".join(hover_markdown(f) for f in hits)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=body))


def _is_python(document: types.TextDocumentItem) -> bool:
    return document.language_id == "python" or document.uri.endswith(".py")


def build() -> AdvisorServer:
    """The server with every feature registered (tests start it through `advisor server`)."""
    ls = AdvisorServer()

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: AdvisorServer, params: types.DidOpenTextDocumentParams) -> None:
        if _is_python(params.text_document):
            ls.request(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: AdvisorServer, params: types.DidChangeTextDocumentParams) -> None:
        if params.text_document.uri in ls.targets or params.text_document.uri in ls._running:
            ls.request(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: AdvisorServer, params: types.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri.endswith("pyproject.toml"):
            ls.configs.clear()  # the configuration may have changed: every open document again
            for uri in list(ls.targets):
                ls.request(uri)
        elif params.text_document.uri in ls.targets:
            ls.request(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AdvisorServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.parsers.pop(uri, None)
        if ls.targets.pop(uri, None) is not None:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: AdvisorServer, params: types.DidOpenNotebookDocumentParams) -> None:
        for cell in params.notebook_document.cells:
            ls.cell_owner[cell.document] = params.notebook_document.uri
        ls.request(params.notebook_document.uri)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(ls: AdvisorServer, params: types.DidChangeNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        structure = params.change.cells.structure if params.change.cells else None
        if structure is not None:
            for opened in structure.did_open or []:
                ls.cell_owner[opened.uri] = uri
            for closed in structure.did_close or []:
                ls.cell_owner.pop(closed.uri, None)
                ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=closed.uri, diagnostics=[]))
        ls.request(uri)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: AdvisorServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.request(params.notebook_document.uri)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: AdvisorServer, params: types.DidCloseNotebookDocumentParams) -> None:
        target = ls.targets.pop(params.notebook_document.uri, None)
        ls.parsers.pop(params.notebook_document.uri, None)
        for cell in params.cell_text_documents:
            ls.cell_owner.pop(cell.uri, None)
        for uri in target.cell_uris if target is not None else ():
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    ls.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))(code_actions)
    ls.feature(types.TEXT_DOCUMENT_HOVER)(hover)
    return ls


def start() -> None:
    """Serve one client on stdin/stdout until it disconnects."""
    build().start_io()
