"""Device profiles, transports and backends for on-device profiling."""
