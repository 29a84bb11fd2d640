"""Model builders and vocabularies for the harness."""
