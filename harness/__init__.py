"""GPT-OSS local inference bench & eval harness."""
