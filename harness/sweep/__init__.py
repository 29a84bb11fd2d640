"""Running a sweep: the per-point job, progress, and the Hydra callback that merges the rows."""
