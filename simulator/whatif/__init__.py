"""What-if experiments: scenarios x replications of the plant model, compared with confidence
intervals (docs/whatif.md). `engine` runs one replication without telemetry, `experiment`
runs many in parallel and summarises them."""
