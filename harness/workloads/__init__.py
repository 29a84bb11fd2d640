"""Workloads: each plans its tests and runs them on a backend, recording raw timestamps only."""
