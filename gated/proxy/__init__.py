"""The OpenAI-compatible surface: parse the few fields the gateway reads, forward the rest."""
