# bash completion for envelope(1). Installed as
# <bash-completion completionsdir>/envelope, which bash-completion loads the
# first time `envelope` is completed; it also works sourced on its own.
#
# KEK URIs complete to their schemes (and file: to file names), never to
# the keys on a token: listing them would log in to the token on a <Tab>.

# COMPREPLY from compgen's lines (names with blanks stay whole)
_envelope_reply()
{
    mapfile -t COMPREPLY < <(compgen "$@")
}

_envelope_uri()
{
    local cur=$1
    case $cur in
    file:*) # file:PATH
        _envelope_reply -f -- "${cur#file:}"
        COMPREPLY=("${COMPREPLY[@]/#/file:}")
        compopt -o filenames 2>/dev/null
        ;;
    pkcs11:* | tpm2:*) ;; # the attributes are the user's to write
    *)
        _envelope_reply -W 'pkcs11: tpm2: file:' -- "$cur"
        compopt -o nospace 2>/dev/null
        ;;
    esac
    # bash replaces only the part of the word after its last ':' (a word
    # break): drop what is already there, as bash-completion's
    # __ltrim_colon_completions does
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local prefix=${cur%"${cur##*:}"} i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
        done
    fi
}

_envelope()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        # ':' and '=' stay inside words (pkcs11:..., K=V)
        _init_completion -n :=
    else
        # without bash-completion: the words of the line up to the cursor,
        # split at blanks only (COMP_WORDS is also split at ':' and '=')
        local line=${COMP_LINE:0:COMP_POINT}
        read -ra words <<<"$line"
        [[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=('')
        cword=$((${#words[@]} - 1))
        cur=${words[cword]}
        prev=${words[cword - 1]}
    fi

    # the subcommand (and kek's verb): the first words that are not options
    # or the argument of --config
    local cmd='' verb='' i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
        --config) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=$w
            elif [[ $cmd == kek && -z $verb ]]; then
                verb=$w
                break
            else
                break
            fi
            ;;
        esac
    done

    # arguments of options
    case $prev in
    --config | -o | --output)
        _envelope_reply -f -- "$cur"
        compopt -o filenames 2>/dev/null
        return
        ;;
    --kek)
        _envelope_uri "$cur"
        return
        ;;
    --type)
        _envelope_reply -W 'aes-256 rsa-3072 ec-p256 rsa-2048' -- "$cur"
        return
        ;;
    --frame-size)
        _envelope_reply -W '4K 16K 64K 256K 1M 4M 16M' -- "$cur"
        return
        ;;
    --kek-policy)
        _envelope_reply -W 'all any' -- "$cur"
        return
        ;;
    --threads)
        _envelope_reply -W "1 2 4 8 $(getconf _NPROCESSORS_ONLN 2>/dev/null)" -- "$cur"
        return
        ;;
    --pcrs)
        _envelope_reply -W 'sha256:' -- "$cur"
        compopt -o nospace 2>/dev/null
        return
        ;;
    --context) return ;; # KEY=VALUE, the user's own
    esac

    local opts
    case $cmd in
    '')
        _envelope_reply -W '--config --quiet --help --version -V
                                 encrypt decrypt inspect kek help' -- "$cur"
        return
        ;;
    encrypt) opts='--kek --kek-policy --context --frame-size --threads -o --output --force --quiet --config --help' ;;
    decrypt) opts='--kek --context --threads -o --output --force --quiet --allow-retired --stats --config --help' ;;
    inspect) opts='--json --quiet --config --help' ;;
    kek)
        case $verb in
        '')
            _envelope_reply -W 'create list check --help' -- "$cur"
            return
            ;;
        create) opts='--type --pcrs --quiet --config --help' ;;
        list) opts='--json --config --help' ;;
        check) opts='--json --quiet --config --help' ;;
        *) return ;;
        esac
        if [[ $cur != -* ]]; then
            _envelope_uri "$cur"
            return
        fi
        ;;
    *) return ;;
    esac

    if [[ $cur == -* ]]; then
        _envelope_reply -W "$opts" -- "$cur"
    else # IN: a file, or - for stdin
        _envelope_reply -f -- "$cur"
        compopt -o filenames 2>/dev/null
    fi
}

complete -F _envelope envelope
