"""Regression checks: small objects, one per matched point, gathered and reported together."""
