complete -c comqtt-bench -l broker -d 'Broker URL: tcp://HOST:PORT, ssl:// or tls://, ws://HOST:PORT/PATH, wss://, quic://HOST:PORT; several comma-separated' -r
complete -c comqtt-bench -l num-clients -d 'Number of concurrent clients (workers: one subscriber and one publisher each)' -r
complete -c comqtt-bench -l num-messages -d 'Number of messages shipped by client' -r
complete -c comqtt-bench -l constant-payload -d 'Use this constant payload in every MQTT message; @FILE reads it from a file' -r
complete -c comqtt-bench -l timeout -d 'Timeout for pub/sub actions (connect, subscribe, acknowledgements, silence after publishing)' -r
complete -c comqtt-bench -l global-timeout -d 'Timeout spanning all operations' -r
complete -c comqtt-bench -l rampup-size -d 'Size of rampup batch (workers started together); 0 or negative means 100' -r
complete -c comqtt-bench -l rampup-delay -d 'Time between batch rampups' -r
complete -c comqtt-bench -l username -d 'Username' -r
complete -c comqtt-bench -l password -d 'Password' -r
complete -c comqtt-bench -l log-level -d 'Log level (0=nothing, 1=errors, 2=debug, 3=error+debug), to stderr' -r
complete -c comqtt-bench -l profile-cpu -d 'Accepted for compatibility and ignored (mqtt-stresser\'s Go CPU profile)' -r
complete -c comqtt-bench -l profile-mem -d 'Accepted for compatibility and ignored (mqtt-stresser\'s Go memory profile)' -r
complete -c comqtt-bench -l no-progress -d 'Hide progress indicator' -r
complete -c comqtt-bench -l retain -d 'If set, the retained flag of the published mqtt messages is set' -r
complete -c comqtt-bench -l publisher-qos -d 'QoS level of published messages (0, 1 or 2)' -r
complete -c comqtt-bench -l subscriber-qos -d 'QoS level for the subscriber (0, 1 or 2)' -r
complete -c comqtt-bench -l skip-tls-verification -d 'Skip the TLS verification of the MQTT connection' -r
complete -c comqtt-bench -l cafile -d 'Path to a file containing trusted CA certificates (PEM); default: the system\'s' -r
complete -c comqtt-bench -l cert -d 'Client certificate for authentication, if required by server (PEM)' -r
complete -c comqtt-bench -l key -d 'Client private key for authentication, if required by server (PEM)' -r
complete -c comqtt-bench -l pause-between-messages -d 'Adds a pause between sending messages to simulate sensors sending messages infrequently' -r
complete -c comqtt-bench -l topic-base-path -d 'Topic base path, if empty the default is internal/mqtt-stresser' -r
complete -c comqtt-bench -l client-id-prefix -d 'Client id prefix (client ids are PREFIX-sub-HOST-workerN-RANDOM)' -r
complete -c comqtt-bench -l session-expiry -d 'Persistent sessions: connect with clean session/start 0 and this session expiry (5.0); 0: clean sessions, as mqtt-stresser' -r
complete -c comqtt-bench -l protocol -d 'MQTT version: 3 (3.1), 4 (3.1.1) or 5 (5.0)' -r
complete -c comqtt-bench -l scenario -d 'Load pattern' -r -f -a "p2p\t'mqtt-stresser\'s: each worker\'s publisher sends to its own subscriber'
fanout\t'One publisher, every subscriber on its topic'
fanin\t'Every publisher, one subscriber'
sharedsub\t'Every publisher, a shared subscription group of subscribers'
conn\t'Connections only: open, hold, close'"
complete -c comqtt-bench -l payload-size -d 'Payload size in bytes (binary, with sequence and send time in the first 16); 0: mqtt-stresser\'s text' -r
complete -c comqtt-bench -l rate -d 'Messages per second per publisher; 0: as fast as possible' -r
complete -c comqtt-bench -l duration -d 'Publish for this long instead of -num-messages messages; 0s: use -num-messages' -r
complete -c comqtt-bench -l max-inflight -d 'QoS 1/2 messages a publisher keeps unacknowledged (mqtt-stresser: 1)' -r
complete -c comqtt-bench -l connect-rate -d 'conn scenario: new connections per second; 0: ramp-up batches (-rampup-size, -rampup-delay)' -r
complete -c comqtt-bench -l hold -d 'conn scenario: how long to hold the connections once all are attempted' -r
complete -c comqtt-bench -l source-addresses -d 'Local addresses to connect from, e.g. 127.0.0.1-127.0.0.20,10.0.0.5 (default: 127.0.0.x for a loopback broker past 25000 connections)' -r
complete -c comqtt-bench -l json -d 'Print the report as JSON (stdout holds only the JSON)' -r
complete -c comqtt-bench -l threads -d 'Runtime threads; 0: half the CPUs (at least 1), leaving the rest to a broker on the same machine' -r
complete -c comqtt-bench -s h -l help -d 'Print help (see more with \'--help\')'
complete -c comqtt-bench -s V -l version -d 'Print version'
