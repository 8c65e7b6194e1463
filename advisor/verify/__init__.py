"""The dynamic verifier: runs each rule's before/after pair in a child process and measures the gain.

Only the child processes (`advisor.verify.child`) import torch or numpy; everything imported from here by
the parent process (`advisor verify`, `advisor scan --verify`, `advisor explain`) stays on the standard
library so that scanning never pays for, or depends on, the heavy frameworks.
"""
