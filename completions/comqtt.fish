# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_comqtt_global_optspecs
    string join \n conf= tcp= ws= http= listen-backlog= http-token= quic= worker-threads= pprof-enable tls-cert= tls-key= tls-ca= storage-way= redis= redis-db= redis-pass= storage-path= storage-sync= auth-way= auth-ds= auth-path= auth-blacklist= bridge-way= bridge-path= node-name= bind-ip= gossip-port= raft-port= raft-bootstrap= raft-dir= raft-log-level= members= grpc-enable= grpc-port= cluster-secret= cluster-tls-cert= cluster-tls-key= cluster-tls-ca= nodes-file-dir= log-enable= level= env= log-output= log-file= info-file= error-file= h/help V/version
end

function __fish_comqtt_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_comqtt_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_comqtt_using_subcommand
    set -l cmd (__fish_comqtt_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c comqtt -n "__fish_comqtt_needs_command" -l conf -d 'YAML config file (the original\'s schema); flags given as well override its values' -r -F
complete -c comqtt -n "__fish_comqtt_needs_command" -l tcp -d 'Network address of the MQTT TCP listener [default: :1883]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l ws -d 'Network address of the MQTT WebSocket listener (subprotocol `mqtt`); empty turns it off [default: :1882]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l http -d 'Network address of the HTTP API (stats, clients, retained, blacklist, publish, /metrics, /healthz, /readyz); empty turns it off [default: :8080]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l listen-backlog -d 'Connections the kernel queues per listener before they are accepted, capped by net.core.somaxconn (mqtt.options.listen-backlog) [default: 1024]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l http-token -d 'Bearer token the HTTP API\'s mutating requests (POST, DELETE) must carry; without one they are refused (403)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l quic -d 'MQTT over QUIC on this UDP address (e.g. :2000; TLS 1.3, ALPN mqtt, the --tls-* certificate or a self-signed one) [YAML: mqtt.quic]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l worker-threads -d 'Threads that serve clients; 0 = one per CPU core. 1 costs less CPU per message and lowers latency at modest loads, more use more cores (see README, Benchmarks) [YAML: worker-threads]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l tls-cert -d 'Server certificate chain (PEM): the TCP and WebSocket listeners then speak TLS / WSS' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l tls-key -d 'Private key of the server certificate (PEM)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l tls-ca -d 'CA certificates (PEM) client certificates must chain to: turns on mutual TLS' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l storage-way -d 'Storage: 0 memory, 1 embedded redb file, 2 alias of 1 [default: 1]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l redis -d 'Redis address for --storage-way 3 [default: 127.0.0.1:6379]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l redis-db -d 'Redis database number [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l redis-pass -d 'Redis password' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l storage-path -d 'File of the embedded store [default: ./data/comqtt.redb]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l storage-sync -d 'Acknowledge persistent-session messages only once on disk (true) or commit every 200 ms (false) [default: true]' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_needs_command" -l auth-way -d 'Authentication: 0 anonymous, 1 username and password, 2 client id (auth.way) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l auth-ds -d 'Auth datasource: 0 file (rule file), 1 redis, 2 mysql, 3 postgresql, 4 http (auth.datasource) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l auth-path -d 'The datasource\'s YAML file: auth-redis.yml, auth-mysql.yml, auth-postgresql.yml, auth-http.yml or a rule file (auth.conf-path)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l auth-blacklist -d 'Blacklist rule file checked before the datasource (auth.blacklist-path)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l bridge-way -d 'Bridge of client events: 0 none, 1 Kafka (needs --bridge-path) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l bridge-path -d 'The Kafka bridge\'s YAML file (the original\'s bridge-kafka.yml schema)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l node-name -d 'Cluster: this node\'s unique name; setting it turns cluster mode on (cluster.node-name)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l bind-ip -d 'Cluster: the IP gossip, raft and gRPC bind to, usually the private address (cluster.bind-addr) [default: 127.0.0.1]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l gossip-port -d 'Cluster: gossip port, UDP (cluster.bind-port) [default: 7946]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l raft-port -d 'Cluster: raft port, TCP (cluster.raft-port) [default: gossip port + 1000]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l raft-bootstrap -d 'Cluster: true on the first node, which starts the raft cluster when it has no raft state (cluster.raft-bootstrap) [default: false]' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_needs_command" -l raft-dir -d 'Cluster: where the raft log is kept (cluster.raft-dir) [default: data/<node-name>]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l raft-log-level -d 'Cluster: level of raft\'s own log lines: debug, info, warn, error (cluster.raft-log-level) [default: error]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l members -d 'Cluster: seed gossip addresses of nodes already in the cluster, comma-separated (cluster.members)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l grpc-enable -d 'Cluster: accepted for the original\'s command lines; messages between nodes always use gRPC (cluster.grpc-enable)' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_needs_command" -l grpc-port -d 'Cluster: gRPC port between nodes and for comqttctl (cluster.grpc-port) [default: gossip port + 10000]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l cluster-secret -d 'Cluster: the secret every node and comqttctl must present (cluster.secret); without one the raft and gRPC ports are open to anyone who reaches them' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l cluster-tls-cert -d 'Cluster: this node\'s TLS certificate (PEM) for the raft and gRPC ports, also shown to other nodes as a client (cluster.tls.cert-file); with --cluster-tls-key and --cluster-tls-ca, nodes speak only mutual TLS' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l cluster-tls-key -d 'Cluster: the private key of --cluster-tls-cert (cluster.tls.key-file)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l cluster-tls-ca -d 'Cluster: the CA every node\'s certificate is signed by (cluster.tls.ca-file)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l nodes-file-dir -d 'Cluster: directory of <node-name>-nodes.json, the last known members used as seeds at the next start (cluster.nodes-file-dir)' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l log-enable -d 'Logging on or off [default: true]' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_needs_command" -l level -d 'Log level: 0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic, 6 no level, 7 off [default: 1]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l env -d 'Environment: 0 development (readable console logs), 1 production (JSON logs) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l log-output -d 'Where logs go: 0 console (stderr), 1 files, 2 both (log.output) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l log-file -d 'Log file of every line, rotated by size (log.filename); "" writes none [default: ./logs/comqtt.log]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l info-file -d 'Log file of info and above (log.info-file); "" writes none [default: ./logs/co-info.log]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l error-file -d 'Log file of errors (log.error-file); "" writes none [default: ./logs/co-err.log]' -r
complete -c comqtt -n "__fish_comqtt_needs_command" -l pprof-enable -d 'Serve CPU profiles and the allocator\'s summary on the HTTP API\'s port (/debug/pprof/profile, /debug/pprof/heap; the token is needed) [YAML: pprof-enable]'
complete -c comqtt -n "__fish_comqtt_needs_command" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_needs_command" -s V -l version -d 'Print version'
complete -c comqtt -n "__fish_comqtt_needs_command" -f -a "serve" -d 'Run a broker node'
complete -c comqtt -n "__fish_comqtt_needs_command" -f -a "config" -d 'Validate or print configuration files'
complete -c comqtt -n "__fish_comqtt_needs_command" -f -a "dashboard" -d 'Manage the web dashboard\'s users file'
complete -c comqtt -n "__fish_comqtt_needs_command" -f -a "generate-docs" -d 'Write shell completions and the man page under DIR (used by scripts/gen-docs)'
complete -c comqtt -n "__fish_comqtt_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l conf -d 'YAML config file (the original\'s schema); flags given as well override its values' -r -F
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l tcp -d 'Network address of the MQTT TCP listener [default: :1883]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l ws -d 'Network address of the MQTT WebSocket listener (subprotocol `mqtt`); empty turns it off [default: :1882]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l http -d 'Network address of the HTTP API (stats, clients, retained, blacklist, publish, /metrics, /healthz, /readyz); empty turns it off [default: :8080]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l listen-backlog -d 'Connections the kernel queues per listener before they are accepted, capped by net.core.somaxconn (mqtt.options.listen-backlog) [default: 1024]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l http-token -d 'Bearer token the HTTP API\'s mutating requests (POST, DELETE) must carry; without one they are refused (403)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l quic -d 'MQTT over QUIC on this UDP address (e.g. :2000; TLS 1.3, ALPN mqtt, the --tls-* certificate or a self-signed one) [YAML: mqtt.quic]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l worker-threads -d 'Threads that serve clients; 0 = one per CPU core. 1 costs less CPU per message and lowers latency at modest loads, more use more cores (see README, Benchmarks) [YAML: worker-threads]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l tls-cert -d 'Server certificate chain (PEM): the TCP and WebSocket listeners then speak TLS / WSS' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l tls-key -d 'Private key of the server certificate (PEM)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l tls-ca -d 'CA certificates (PEM) client certificates must chain to: turns on mutual TLS' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l storage-way -d 'Storage: 0 memory, 1 embedded redb file, 2 alias of 1 [default: 1]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l redis -d 'Redis address for --storage-way 3 [default: 127.0.0.1:6379]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l redis-db -d 'Redis database number [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l redis-pass -d 'Redis password' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l storage-path -d 'File of the embedded store [default: ./data/comqtt.redb]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l storage-sync -d 'Acknowledge persistent-session messages only once on disk (true) or commit every 200 ms (false) [default: true]' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l auth-way -d 'Authentication: 0 anonymous, 1 username and password, 2 client id (auth.way) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l auth-ds -d 'Auth datasource: 0 file (rule file), 1 redis, 2 mysql, 3 postgresql, 4 http (auth.datasource) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l auth-path -d 'The datasource\'s YAML file: auth-redis.yml, auth-mysql.yml, auth-postgresql.yml, auth-http.yml or a rule file (auth.conf-path)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l auth-blacklist -d 'Blacklist rule file checked before the datasource (auth.blacklist-path)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l bridge-way -d 'Bridge of client events: 0 none, 1 Kafka (needs --bridge-path) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l bridge-path -d 'The Kafka bridge\'s YAML file (the original\'s bridge-kafka.yml schema)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l node-name -d 'Cluster: this node\'s unique name; setting it turns cluster mode on (cluster.node-name)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l bind-ip -d 'Cluster: the IP gossip, raft and gRPC bind to, usually the private address (cluster.bind-addr) [default: 127.0.0.1]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l gossip-port -d 'Cluster: gossip port, UDP (cluster.bind-port) [default: 7946]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l raft-port -d 'Cluster: raft port, TCP (cluster.raft-port) [default: gossip port + 1000]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l raft-bootstrap -d 'Cluster: true on the first node, which starts the raft cluster when it has no raft state (cluster.raft-bootstrap) [default: false]' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l raft-dir -d 'Cluster: where the raft log is kept (cluster.raft-dir) [default: data/<node-name>]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l raft-log-level -d 'Cluster: level of raft\'s own log lines: debug, info, warn, error (cluster.raft-log-level) [default: error]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l members -d 'Cluster: seed gossip addresses of nodes already in the cluster, comma-separated (cluster.members)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l grpc-enable -d 'Cluster: accepted for the original\'s command lines; messages between nodes always use gRPC (cluster.grpc-enable)' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l grpc-port -d 'Cluster: gRPC port between nodes and for comqttctl (cluster.grpc-port) [default: gossip port + 10000]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l cluster-secret -d 'Cluster: the secret every node and comqttctl must present (cluster.secret); without one the raft and gRPC ports are open to anyone who reaches them' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l cluster-tls-cert -d 'Cluster: this node\'s TLS certificate (PEM) for the raft and gRPC ports, also shown to other nodes as a client (cluster.tls.cert-file); with --cluster-tls-key and --cluster-tls-ca, nodes speak only mutual TLS' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l cluster-tls-key -d 'Cluster: the private key of --cluster-tls-cert (cluster.tls.key-file)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l cluster-tls-ca -d 'Cluster: the CA every node\'s certificate is signed by (cluster.tls.ca-file)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l nodes-file-dir -d 'Cluster: directory of <node-name>-nodes.json, the last known members used as seeds at the next start (cluster.nodes-file-dir)' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l log-enable -d 'Logging on or off [default: true]' -r -f -a "true\t''
false\t''"
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l level -d 'Log level: 0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic, 6 no level, 7 off [default: 1]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l env -d 'Environment: 0 development (readable console logs), 1 production (JSON logs) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l log-output -d 'Where logs go: 0 console (stderr), 1 files, 2 both (log.output) [default: 0]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l log-file -d 'Log file of every line, rotated by size (log.filename); "" writes none [default: ./logs/comqtt.log]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l info-file -d 'Log file of info and above (log.info-file); "" writes none [default: ./logs/co-info.log]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l error-file -d 'Log file of errors (log.error-file); "" writes none [default: ./logs/co-err.log]' -r
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -l pprof-enable -d 'Serve CPU profiles and the allocator\'s summary on the HTTP API\'s port (/debug/pprof/profile, /debug/pprof/heap; the token is needed) [YAML: pprof-enable]'
complete -c comqtt -n "__fish_comqtt_using_subcommand serve" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and not __fish_seen_subcommand_from check default help" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and not __fish_seen_subcommand_from check default help" -f -a "check" -d 'Check a YAML config file (the main one, with the bridge file it names, or a Kafka bridge file): exit 0 if it is valid, else print what is wrong'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and not __fish_seen_subcommand_from check default help" -f -a "default" -d 'Print the full default configuration as YAML'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and not __fish_seen_subcommand_from check default help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and __fish_seen_subcommand_from default" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check a YAML config file (the main one, with the bridge file it names, or a Kafka bridge file): exit 0 if it is valid, else print what is wrong'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "default" -d 'Print the full default configuration as YAML'
complete -c comqtt -n "__fish_comqtt_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and not __fish_seen_subcommand_from add-user help" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and not __fish_seen_subcommand_from add-user help" -f -a "add-user" -d 'Add a user to the dashboard\'s users file (bcrypt hash); the password is read from the first line of standard input, or COMQTT_DASHBOARD_PASSWORD'
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and not __fish_seen_subcommand_from add-user help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and __fish_seen_subcommand_from add-user" -l role -d 'admin (may act: kick, ban, delete, publish) or viewer (looks only)' -r -f -a "admin\t''
viewer\t''"
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and __fish_seen_subcommand_from add-user" -l users-file -d 'The users file (dashboard.users-file)' -r -F
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and __fish_seen_subcommand_from add-user" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and __fish_seen_subcommand_from help" -f -a "add-user" -d 'Add a user to the dashboard\'s users file (bcrypt hash); the password is read from the first line of standard input, or COMQTT_DASHBOARD_PASSWORD'
complete -c comqtt -n "__fish_comqtt_using_subcommand dashboard; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqtt -n "__fish_comqtt_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and not __fish_seen_subcommand_from serve config dashboard generate-docs help" -f -a "serve" -d 'Run a broker node'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and not __fish_seen_subcommand_from serve config dashboard generate-docs help" -f -a "config" -d 'Validate or print configuration files'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and not __fish_seen_subcommand_from serve config dashboard generate-docs help" -f -a "dashboard" -d 'Manage the web dashboard\'s users file'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and not __fish_seen_subcommand_from serve config dashboard generate-docs help" -f -a "generate-docs" -d 'Write shell completions and the man page under DIR (used by scripts/gen-docs)'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and not __fish_seen_subcommand_from serve config dashboard generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Check a YAML config file (the main one, with the bridge file it names, or a Kafka bridge file): exit 0 if it is valid, else print what is wrong'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "default" -d 'Print the full default configuration as YAML'
complete -c comqtt -n "__fish_comqtt_using_subcommand help; and __fish_seen_subcommand_from dashboard" -f -a "add-user" -d 'Add a user to the dashboard\'s users file (bcrypt hash); the password is read from the first line of standard input, or COMQTT_DASHBOARD_PASSWORD'
