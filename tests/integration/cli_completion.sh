#!/usr/bin/env bash
# cli.none.completion: the bash completion (completion/envelope.bash), loaded
# as bash-completion loads it, completes the real CLI's commands and options:
# every long option `envelope COMMAND --help` prints is offered, and a few
# completions are checked word by word (commands, --kek schemes, file: paths,
# --type values). Also without bash-completion; and zsh's _envelope,
# registered by compinit, completes in an interactive zsh
# (cli_completion_zsh.zsh).
#   cli_completion.sh ENVELOPE_BINARY COMPLETION_DIR
# Not `set -e`: completion functions return non-zero by design (compopt
# outside a real completion, for one), and bash-completion reads unset
# variables.
envelope=$1
dir=$2
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "FAIL: $bc missing: install bash-completion (scripts/install-deps.sh)" >&2; exit 1; }

# comp LINE: what completing at the end of LINE offers, one per line. The
# words are split as bash splits them for a completion function
# (COMP_WORDBREAKS: ':' and '=' are words of their own).
comp() {
  local line=$1 spaced
  COMP_LINE=$line
  COMP_POINT=${#line}
  spaced=${line//:/ : }
  spaced=${spaced//=/ = }
  read -ra COMP_WORDS <<<"$spaced"
  [[ $line == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _envelope envelope "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
  printf '%s\n' "${COMPREPLY[@]}"
}

# expect LINE WORD...: each WORD is offered
expect() {
  local line=$1 got w
  shift
  got=$(comp "$line")
  for w in "$@"; do
    grep -qxF -- "$w" <<<"$got" || fail "completing '$line' does not offer '$w' (offers: ${got//$'\n'/ })"
  done
}

# expect_only LINE WORD...: exactly these WORDs, in any order
expect_only() {
  local line=$1 got want
  shift
  got=$(comp "$line" | sort)
  want=$(printf '%s\n' "$@" | sort)
  [ "$got" = "$want" ] || fail "completing '$line' offers '${got//$'\n'/ }', expected '${want//$'\n'/ }'"
}

# shellcheck source=/dev/null
source "$bc"
# shellcheck source=../../completion/envelope.bash
source "$dir/envelope.bash"

complete -p envelope | grep -qx 'complete -F _envelope envelope' ||
  fail "complete -p envelope: $(complete -p envelope 2>&1)"

# the top level: every command and global option the usage names
usage=$("$envelope" --help)
for cmd in encrypt decrypt inspect kek; do
  grep -q "^  $cmd" <<<"$usage" || fail "usage no longer lists $cmd: update this test"
done
expect 'envelope ' encrypt decrypt inspect kek
expect_only 'envelope enc' encrypt
expect_only 'envelope --config x.cnf d' decrypt
mapfile -t global < <(sed -n 's/^usage: envelope \(.*\) COMMAND.*/\1/p' <<<"$usage" | grep -o -- '--[a-z-]*')
[ "${#global[@]}" -ge 2 ] || fail "no global options found in 'envelope --help'"
expect 'envelope --' "${global[@]}"

# every long option of each command's --help is offered
for cmd in encrypt decrypt inspect; do
  mapfile -t opts < <("$envelope" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
  [ "${#opts[@]}" -ge 1 ] || fail "no options found in 'envelope $cmd --help'"
  expect "envelope $cmd --" "${opts[@]}"
done
kek_help=$("$envelope" kek --help 2>&1)
mapfile -t kek_opts < <(grep -o -- '--[a-z][a-z-]*' <<<"$kek_help" | sort -u)
[ "${#kek_opts[@]}" -ge 3 ] || fail "no options found in 'envelope kek --help'"
both=$( (comp 'envelope kek create --'; comp 'envelope kek list --'; comp 'envelope kek check --') |
  sort -u)
for o in "${kek_opts[@]}"; do
  grep -qxF -- "$o" <<<"$both" || fail "'envelope kek create|list|check --' does not offer $o"
done
# and every key type the help names
mapfile -t types < <(grep -o -- '--type [a-z0-9|-]*' <<<"$kek_help" | cut -d' ' -f2 | tr '|' '\n' | sort -u)
[ "${#types[@]}" -ge 4 ] || fail "key types not found in 'envelope kek --help'"
expect 'envelope kek create --type ' "${types[@]}"
expect_only 'envelope kek create --type rsa-3' rsa-3072

expect_only 'envelope kek ' create list check --help
expect_only 'envelope encrypt --kek ' pkcs11: tpm2: file:
expect_only 'envelope encrypt --kek fi' file:
# a word with ':' is completed after the ':' (bash's word break)
: >"$tmp/kek-rsa.pem"
expect_only "envelope encrypt --kek file:$tmp/kek-r" "$tmp/kek-rsa.pem"
expect_only "envelope kek create --type aes-256 pk" pkcs11:
expect_only "envelope decrypt -o $tmp/kek-" "$tmp/kek-rsa.pem"
expect_only "envelope inspect $tmp/kek" "$tmp/kek-rsa.pem"
expect_only 'envelope encrypt --context ' # the user's own pairs

# without bash-completion (a bare bash), the same function still works
# shellcheck disable=SC2016 # the script's own $1, $2 and variables
bare=$(env -i PATH="$PATH" bash --norc -c '
  source "$1/envelope.bash"
  COMP_LINE="envelope encrypt --kek file:$2/kek-r"; COMP_POINT=${#COMP_LINE}
  COMP_WORDS=(envelope encrypt --kek file : "$2/kek-r"); COMP_CWORD=5
  _envelope 2>/dev/null; printf "%s\n" "${COMPREPLY[@]}"
  COMP_LINE="envelope k"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(envelope k); COMP_CWORD=1
  _envelope 2>/dev/null; printf "%s\n" "${COMPREPLY[@]}"' _ "$dir" "$tmp")
[ "$bare" = "$tmp/kek-rsa.pem
kek" ] || fail "without bash-completion: got '$bare'"

# zsh: the function is found through $fpath and registered for envelope
if ! command -v zsh >/dev/null; then
  fail "zsh missing: install zsh (scripts/install-deps.sh)"
else
  got=$(HOME=$tmp zsh -fc 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2/zcd"
         print -r -- $_comps[envelope]' _ "$dir" "$tmp" 2>&1)
  [ "$got" = _envelope ] || fail "zsh: compinit does not register _envelope for envelope: $got"
  # and completes, in a real interactive zsh on a pseudo terminal
  if ! zout=$(HOME=$tmp timeout 60 zsh -f "$(dirname "$0")/cli_completion_zsh.zsh" "$dir" "$tmp" 2>&1); then
    fail "zsh: completing in an interactive zsh failed or timed out: $zout"
  else
    for t in aes-256 rsa-3072 ec-p256 rsa-2048; do
      [[ ${zout%%command: *} == *"$t"* ]] || fail "zsh: --type does not offer $t"
    done
    [[ ${zout#*command: } == *encrypt* ]] || fail "zsh: envelope enc does not complete to encrypt"
  fi
fi

if [ "$fails" -gt 0 ]; then
  echo "cli.none.completion: $fails failure(s)" >&2
  exit 1
fi
echo "cli.none.completion: ok"
