"""ADV2xx: feeding the training loop — per-sample steps, batch size, loader workers, pinned memory, re-reading and building the data."""
