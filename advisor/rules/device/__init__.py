"""ADV1xx: host↔device work each step (copies, syncs, allocator calls) and CUDA settings or debugging aids that slow every step."""
