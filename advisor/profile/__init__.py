"""`advisor profile`: run the user's own training script under torch.profiler for a bounded window of
optimizer steps, and join what happened at runtime with `advisor scan` of the same files.

This is the one command that executes user code. The parent side (`command`, `runner`, `result`,
`join`) never imports torch; only the child (`child`, `recorder`, `window`) does, in its own process.
"""
