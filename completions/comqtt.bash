_comqtt() {
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
                cmd="comqtt"
                ;;
            comqtt,config)
                cmd="comqtt__subcmd__config"
                ;;
            comqtt,dashboard)
                cmd="comqtt__subcmd__dashboard"
                ;;
            comqtt,generate-docs)
                cmd="comqtt__subcmd__generate__subcmd__docs"
                ;;
            comqtt,help)
                cmd="comqtt__subcmd__help"
                ;;
            comqtt,serve)
                cmd="comqtt__subcmd__serve"
                ;;
            comqtt__subcmd__config,check)
                cmd="comqtt__subcmd__config__subcmd__check"
                ;;
            comqtt__subcmd__config,default)
                cmd="comqtt__subcmd__config__subcmd__default"
                ;;
            comqtt__subcmd__config,help)
                cmd="comqtt__subcmd__config__subcmd__help"
                ;;
            comqtt__subcmd__config__subcmd__help,check)
                cmd="comqtt__subcmd__config__subcmd__help__subcmd__check"
                ;;
            comqtt__subcmd__config__subcmd__help,default)
                cmd="comqtt__subcmd__config__subcmd__help__subcmd__default"
                ;;
            comqtt__subcmd__config__subcmd__help,help)
                cmd="comqtt__subcmd__config__subcmd__help__subcmd__help"
                ;;
            comqtt__subcmd__dashboard,add-user)
                cmd="comqtt__subcmd__dashboard__subcmd__add__subcmd__user"
                ;;
            comqtt__subcmd__dashboard,help)
                cmd="comqtt__subcmd__dashboard__subcmd__help"
                ;;
            comqtt__subcmd__dashboard__subcmd__help,add-user)
                cmd="comqtt__subcmd__dashboard__subcmd__help__subcmd__add__subcmd__user"
                ;;
            comqtt__subcmd__dashboard__subcmd__help,help)
                cmd="comqtt__subcmd__dashboard__subcmd__help__subcmd__help"
                ;;
            comqtt__subcmd__help,config)
                cmd="comqtt__subcmd__help__subcmd__config"
                ;;
            comqtt__subcmd__help,dashboard)
                cmd="comqtt__subcmd__help__subcmd__dashboard"
                ;;
            comqtt__subcmd__help,generate-docs)
                cmd="comqtt__subcmd__help__subcmd__generate__subcmd__docs"
                ;;
            comqtt__subcmd__help,help)
                cmd="comqtt__subcmd__help__subcmd__help"
                ;;
            comqtt__subcmd__help,serve)
                cmd="comqtt__subcmd__help__subcmd__serve"
                ;;
            comqtt__subcmd__help__subcmd__config,check)
                cmd="comqtt__subcmd__help__subcmd__config__subcmd__check"
                ;;
            comqtt__subcmd__help__subcmd__config,default)
                cmd="comqtt__subcmd__help__subcmd__config__subcmd__default"
                ;;
            comqtt__subcmd__help__subcmd__dashboard,add-user)
                cmd="comqtt__subcmd__help__subcmd__dashboard__subcmd__add__subcmd__user"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        comqtt)
            opts="-h -V --conf --tcp --ws --http --listen-backlog --http-token --quic --worker-threads --pprof-enable --tls-cert --tls-key --tls-ca --storage-way --redis --redis-db --redis-pass --storage-path --storage-sync --auth-way --auth-ds --auth-path --auth-blacklist --bridge-way --bridge-path --node-name --bind-ip --gossip-port --raft-port --raft-bootstrap --raft-dir --raft-log-level --members --grpc-enable --grpc-port --cluster-secret --cluster-tls-cert --cluster-tls-key --cluster-tls-ca --nodes-file-dir --log-enable --level --env --log-output --log-file --info-file --error-file --help --version serve config dashboard generate-docs help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --conf)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tcp)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ws)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --http)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen-backlog)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --http-token)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quic)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --worker-threads)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tls-cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tls-key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tls-ca)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --storage-way)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis-db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis-pass)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --storage-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --storage-sync)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --auth-way)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth-ds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth-blacklist)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bridge-way)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bridge-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --node-name)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bind-ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --gossip-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --raft-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --raft-bootstrap)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --raft-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --raft-log-level)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --members)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grpc-enable)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --grpc-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-secret)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-tls-cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-tls-key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-tls-ca)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --nodes-file-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-enable)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --level)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --env)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --info-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --error-file)
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
        comqtt__subcmd__config)
            opts="-h --help check default help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__config__subcmd__check)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__config__subcmd__default)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__config__subcmd__help)
            opts="check default help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__config__subcmd__help__subcmd__check)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__config__subcmd__help__subcmd__default)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__config__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__dashboard)
            opts="-h --help add-user help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__dashboard__subcmd__add__subcmd__user)
            opts="-h --role --users-file --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --role)
                    COMPREPLY=($(compgen -W "admin viewer" -- "${cur}"))
                    return 0
                    ;;
                --users-file)
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
        comqtt__subcmd__dashboard__subcmd__help)
            opts="add-user help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__dashboard__subcmd__help__subcmd__add__subcmd__user)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__dashboard__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__generate__subcmd__docs)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help)
            opts="serve config dashboard generate-docs help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__config)
            opts="check default"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__config__subcmd__check)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__config__subcmd__default)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__dashboard)
            opts="add-user"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__dashboard__subcmd__add__subcmd__user)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__generate__subcmd__docs)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__help__subcmd__serve)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        comqtt__subcmd__serve)
            opts="-h --conf --tcp --ws --http --listen-backlog --http-token --quic --worker-threads --pprof-enable --tls-cert --tls-key --tls-ca --storage-way --redis --redis-db --redis-pass --storage-path --storage-sync --auth-way --auth-ds --auth-path --auth-blacklist --bridge-way --bridge-path --node-name --bind-ip --gossip-port --raft-port --raft-bootstrap --raft-dir --raft-log-level --members --grpc-enable --grpc-port --cluster-secret --cluster-tls-cert --cluster-tls-key --cluster-tls-ca --nodes-file-dir --log-enable --level --env --log-output --log-file --info-file --error-file --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --conf)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tcp)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ws)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --http)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --listen-backlog)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --http-token)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --quic)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --worker-threads)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tls-cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tls-key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tls-ca)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --storage-way)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis-db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --redis-pass)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --storage-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --storage-sync)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --auth-way)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth-ds)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --auth-blacklist)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bridge-way)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bridge-path)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --node-name)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bind-ip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --gossip-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --raft-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --raft-bootstrap)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --raft-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --raft-log-level)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --members)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --grpc-enable)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --grpc-port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-secret)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-tls-cert)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-tls-key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --cluster-tls-ca)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --nodes-file-dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-enable)
                    COMPREPLY=($(compgen -W "true false" -- "${cur}"))
                    return 0
                    ;;
                --level)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --env)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --info-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --error-file)
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
    complete -F _comqtt -o nosort -o bashdefault -o default comqtt
else
    complete -F _comqtt -o bashdefault -o default comqtt
fi
