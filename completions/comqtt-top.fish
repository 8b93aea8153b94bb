complete -c comqtt-top -l http -d 'HTTP API of a node: HOST:PORT, :PORT or http://HOST:PORT. Once: the cluster is discovered from it; several times: exactly those nodes' -r
complete -c comqtt-top -l interval -d 'Time between polls (100ms to 1h), e.g. 500ms, 1s, 5s; + and - change it in the TUI' -r
complete -c comqtt-top -l token -d 'Bearer token sent with every request, for an API behind an authenticating proxy' -r
complete -c comqtt-top -l no-discover -d 'Watch only the --http node given, without asking it for the other nodes of its cluster'
complete -c comqtt-top -l once -d 'Print one plain-text snapshot (two polls one --interval apart, for the rates) and exit'
complete -c comqtt-top -l json -d 'Print one snapshot as JSON and exit (implies --once)'
complete -c comqtt-top -s h -l help -d 'Print help (see more with \'--help\')'
complete -c comqtt-top -s V -l version -d 'Print version'
