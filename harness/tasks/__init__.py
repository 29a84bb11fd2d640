"""The agent task suite: tasks as YAML data (suite), their verifiers, the reference completions
that a correct gpt-oss would write (reference) and the offline check of both (check)."""
