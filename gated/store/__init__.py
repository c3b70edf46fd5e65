"""SQLite persistence: migrations, the Store (the only place naming tables) and its writer thread."""
