"""Training with L = L_CE + lambda * E(theta, x): learning curves, efficiency (not yet implemented)."""
