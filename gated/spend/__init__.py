"""Spend: the row each LLM request leaves behind, and the batched writer that stores it."""
