#!/bin/sh
# Runs once, after the image's own DOCKER_INFLUXDB_INIT_* setup: a write token for the
# collector, a read token for the dashboard (written to the shared tokens volume, read by
# the services through SHOPFLOOR_INFLUX_TOKEN_FILE), and the DBRP mapping InfluxQL needs.
set -eu
token() { sed -n 's/.*"token": *"\([^"]*\)".*/\1/p'; }
bucket="$DOCKER_INFLUXDB_INIT_BUCKET_ID"
mkdir -p /tokens
influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" --description "shopfloor collector" \
    --write-bucket "$bucket" --read-bucket "$bucket" --json | token > /tokens/collector.token
influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" --description "shopfloor dashboard" \
    --read-bucket "$bucket" --json | token > /tokens/dashboard.token
chmod 644 /tokens/collector.token /tokens/dashboard.token
test -s /tokens/collector.token && test -s /tokens/dashboard.token
influx v1 dbrp create --org "$DOCKER_INFLUXDB_INIT_ORG" --bucket-id "$bucket" \
    --db "$DOCKER_INFLUXDB_INIT_BUCKET" --rp autogen --default
