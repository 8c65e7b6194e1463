"""ADV4xx: numeric work written out by hand (Python loops, growing arrays, formulas) where one vectorised or fused call does it."""
