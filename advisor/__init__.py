"""advisor: finds performance anti-patterns in PyTorch/NumPy training code and measures the fix."""

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext advisor`: registers the `%advisor` / `%%advisor` magics (IPython is imported only here)."""
    from advisor.magics import register

    register(ipython)
