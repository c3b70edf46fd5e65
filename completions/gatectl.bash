# Generated from gatectl by `make completions`; do not edit.
_gatectl_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _GATECTL_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _gatectl_completion gatectl
