"""Config schemas (Hydra ConfigStore) and validation with one-line errors."""
