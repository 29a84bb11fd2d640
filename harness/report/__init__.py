"""Human-facing output: the llama-bench-like table (plots, report.md and compare come later)."""
