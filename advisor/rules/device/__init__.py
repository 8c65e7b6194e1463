"""ADV1xx: work moved between host and device every step that could happen once, or not at all."""
