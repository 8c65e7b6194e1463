"""advisor: finds performance anti-patterns in PyTorch/NumPy training code and measures the fix."""

__version__ = "0.1.0"
