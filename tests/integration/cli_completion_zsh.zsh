# Run by cli_completion.sh (zsh -f): drives an interactive zsh on a pseudo
# terminal (zsh/zpty), loads _envelope through $fpath and compinit, presses
# Tab after "envelope kek create --type " and after "envelope enc", and
# prints what the terminal shows. The caller bounds the run with timeout(1)
# (each read waits for the text it expects, not for a fixed time).
#   zsh -f cli_completion_zsh.zsh COMPLETION_DIR SCRATCH_DIR
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -d $2/zcompdump; print READY"
zpty -r -m z out '*READY*' || exit 3
zpty -w -n z $'envelope kek create --type \t'
zpty -r -m z out '*rsa-3072*' || exit 4
print -r -- "types: $out"
zpty -w -n z $'\C-u'
zpty -w -n z $'envelope enc\t'
zpty -r -m z out '*encrypt*' || exit 5
print -r -- "command: $out"
zpty -d z
