"""ADV3xx: how the training loop is run — learning-rate schedule, autograd during evaluation, precision, stopping, gradients and the optimizer."""
