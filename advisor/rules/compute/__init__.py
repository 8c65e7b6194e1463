"""ADV4xx: numeric work written as Python loops where one vectorised call does it."""
