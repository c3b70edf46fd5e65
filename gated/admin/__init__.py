"""The admin API: one module per resource (keys, teams, users, audit)."""
