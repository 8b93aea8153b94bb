_comqtt__bench() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="comqtt__bench"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        comqtt__bench)
            opts="-h -V --broker --num-clients --num-messages --constant-payload --timeout --global-timeout --rampup-size --rampup-delay --username --password --log-level --profile-cpu --profile-mem --no-progress --retain --publisher-qos --subscriber-qos --skip-tls-verification --cafile --cert --key --pause-between-messages --topic-base-path --client-id-prefix --session-expiry --protocol --scenario --payload-size --rate --duration --max-inflight --connect-rate --hold --source-addresses --json --threads --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --broker)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --num-clients)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --num-messages)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --constant-payload)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --global-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rampup-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rampup-delay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --username)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --password)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-level)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --profile-cpu)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --profile-mem)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --no-progress)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --retain)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --publisher-qos)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --subscriber-qos)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --skip-tls-verification)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cafile)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pause-between-messages)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --topic-base-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --client-id-prefix)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --session-expiry)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --protocol)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --scenario)
                    COMPREPLY=($(compgen -W "p2p fanout fanin sharedsub conn" -- "${cur}"))
                    return 0
                    ;;
                --payload-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --duration)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-inflight)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --connect-rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --hold)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --source-addresses)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --json)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --threads)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _comqtt__bench -o nosort -o bashdefault -o default comqtt-bench
else
    complete -F _comqtt__bench -o bashdefault -o default comqtt-bench
fi
