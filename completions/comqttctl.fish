# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_comqttctl_global_optspecs
    string join \n s/server= secret= tls-cert= tls-key= tls-ca= tls-server-name= json h/help V/version
end

function __fish_comqttctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_comqttctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_comqttctl_using_subcommand
    set -l cmd (__fish_comqttctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c comqttctl -n "__fish_comqttctl_needs_command" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_needs_command" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_needs_command" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_needs_command" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_needs_command" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_needs_command" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_needs_command" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -s V -l version -d 'Print version'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "members" -d 'List the members: name, status, raft role, leader, addresses'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "raft" -d 'Raft as the node sees it: state, leader, term, log, voters, routes, forwarding counters'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "join" -d 'Make the node gossip to other nodes (host:port of their gossip port): joins two groups of nodes, or adds a node whose seeds were wrong'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "leave" -d 'A node leaves the cluster (the raft leader removes it and drops its routes); it then serves its own clients alone until restarted. Default: the node asked'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "reload" -d 'Re-read the configuration file and apply what can change live (auth and ACL files, limits, watermarks, log, $SYS interval, bridge rules) on every alive node, or on the one named; each node reads its own file. Prints, per node, the keys applied and those that need a restart'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "inspect" -d 'Show the node\'s clients, sessions, subscriptions, one client, or the cluster\'s route table'
complete -c comqttctl -n "__fish_comqttctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand members" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand raft" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand join" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand leave" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand reload" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -s s -l server -d 'gRPC address of a cluster node' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -l secret -d 'The cluster secret, when the cluster has one (cluster.secret)' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -l tls-cert -d 'With cluster TLS: comqttctl\'s certificate (PEM), signed by the cluster\'s CA' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -l tls-key -d 'With cluster TLS: the key of --tls-cert' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -l tls-ca -d 'With cluster TLS: the cluster\'s CA (PEM), which the node\'s certificate must be signed by' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -l tls-server-name -d 'With cluster TLS: the name the node\'s certificate carries, when it is not the address\'s host' -r
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -l json -d 'Print the node\'s JSON reply instead of a table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "members" -d 'List the members: name, status, raft role, leader, addresses'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "raft" -d 'Raft as the node sees it: state, leader, term, log, voters, routes, forwarding counters'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "join" -d 'Make the node gossip to other nodes (host:port of their gossip port): joins two groups of nodes, or adds a node whose seeds were wrong'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "leave" -d 'A node leaves the cluster (the raft leader removes it and drops its routes); it then serves its own clients alone until restarted. Default: the node asked'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "reload" -d 'Re-read the configuration file and apply what can change live (auth and ACL files, limits, watermarks, log, $SYS interval, bridge rules) on every alive node, or on the one named; each node reads its own file. Prints, per node, the keys applied and those that need a restart'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "inspect" -d 'Show the node\'s clients, sessions, subscriptions, one client, or the cluster\'s route table'
complete -c comqttctl -n "__fish_comqttctl_using_subcommand help; and not __fish_seen_subcommand_from members raft join leave reload inspect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
