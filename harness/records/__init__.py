"""The results schema, the row writer, the environment record and the merge of job shards."""
