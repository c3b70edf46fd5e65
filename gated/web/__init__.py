"""Non-LLM HTTP surface: health now; docs, model hub and metrics as they land."""
