#!/bin/sh
# Runs once, after the image's own DOCKER_INFLUXDB_INIT_* setup (which made the bucket of raw
# points, with DOCKER_INFLUXDB_INIT_RETENTION): the rollup bucket, kept longer (issue 15:
# rollups, births and bookkeeping, which old ranges read once the raw points expired), a
# token for the collector that may write and read both buckets, one for the dashboard that
# may only read them (written to the shared tokens volume, read by the services through
# SHOPFLOOR_INFLUX_TOKEN_FILE), and the DBRP mappings InfluxQL needs: the raw bucket as the
# database's default policy, the rollup bucket as its policy `rollups`.
set -eu
token() { sed -n 's/.*"token": *"\([^"]*\)".*/\1/p'; }
id() { sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n 1; }
bucket="$DOCKER_INFLUXDB_INIT_BUCKET_ID"
rollups=$(influx bucket create --org "$DOCKER_INFLUXDB_INIT_ORG" \
    --name "$DOCKER_INFLUXDB_INIT_BUCKET-rollups" \
    --retention "${INFLUXDB_ROLLUP_RETENTION:-400d}" --json | id)
test -n "$rollups"
mkdir -p /tokens
influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" --description "shopfloor collector" \
    --write-bucket "$bucket" --read-bucket "$bucket" \
    --write-bucket "$rollups" --read-bucket "$rollups" --json | token > /tokens/collector.token
influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" --description "shopfloor dashboard" \
    --read-bucket "$bucket" --read-bucket "$rollups" --json | token > /tokens/dashboard.token
chmod 644 /tokens/collector.token /tokens/dashboard.token
test -s /tokens/collector.token && test -s /tokens/dashboard.token
influx v1 dbrp create --org "$DOCKER_INFLUXDB_INIT_ORG" --bucket-id "$bucket" \
    --db "$DOCKER_INFLUXDB_INIT_BUCKET" --rp autogen --default
influx v1 dbrp create --org "$DOCKER_INFLUXDB_INIT_ORG" --bucket-id "$rollups" \
    --db "$DOCKER_INFLUXDB_INIT_BUCKET" --rp rollups
