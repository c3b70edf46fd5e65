"""One module per command group, each a typer app wired into gatectl.main."""
