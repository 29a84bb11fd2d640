"""The GPT-OSS agent: a Harmony tool loop (session), sandboxed tools, a Responses API client,
transcripts (rlog/1 text + JSONL)."""
