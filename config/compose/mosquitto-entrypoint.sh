#!/bin/sh
# Builds the password file from the environment (secrets never sit in the repository), then
# runs mosquitto. mosquitto_passwd stores salted hashes only.
set -eu
umask 077
file=/mosquitto/data/passwd
: > "$file"
for user in simulator collector dashboard reconcile; do
    var="MQTT_$(echo "$user" | tr a-z A-Z)_PASSWORD"
    eval "pass=\${$var:-}"
    if [ -z "$pass" ]; then
        echo "mosquitto: $var is not set (see .env.example)" >&2
        exit 1
    fi
    mosquitto_passwd -b "$file" "$user" "$pass"
done
chown mosquitto:mosquitto "$file" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
