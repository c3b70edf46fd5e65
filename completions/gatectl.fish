# Generated from gatectl by `make completions`; do not edit.
complete --command gatectl --no-files --arguments "(env _GATECTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) gatectl)" --condition "env _GATECTL_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) gatectl"
