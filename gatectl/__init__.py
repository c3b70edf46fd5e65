"""gatectl: the operator's CLI for gated; it speaks only to the daemon's HTTP API."""
