#!/usr/bin/env bash
# An incident from start to write-up, through the v1 API with nothing but curl.
#   TOCSIN_URL=http://127.0.0.1:8000 TOCSIN_KEY=tocsin_... PAGE_ID=abc123def456 examples/curl-story.sh
set -euo pipefail
: "${TOCSIN_URL:?}" "${TOCSIN_KEY:?}" "${PAGE_ID:?}"
api="$TOCSIN_URL/api/v1/pages/$PAGE_ID"

call() {  # METHOD PATH [JSON]
    curl --silent --show-error --fail-with-body -X "$1" "$api$2" \
        -H "Authorization: OAuth $TOCSIN_KEY" -H "Content-Type: application/json" \
        ${3:+--data "$3"}
}
first_id() { sed -E 's/^[^{]*\{"id":"([a-z0-9]+)".*/\1/'; }
step() { printf '%s\n' "$*" >&2; }

payments=$(call POST /components.json '{"component": {"name": "Payments API"}}' | first_id)
webhooks=$(call POST /components.json '{"component": {"name": "Webhooks"}}' | first_id)
step "components: $payments $webhooks"

incident=$(call POST /incidents.json "{\"incident\": {
    \"name\": \"Payments API returning errors\",
    \"status\": \"investigating\",
    \"body\": \"We are seeing elevated error rates on the Payments API.\",
    \"components\": {\"$payments\": \"partial_outage\", \"$webhooks\": \"degraded_performance\"}}}" | first_id)
step "incident: $incident"

call PATCH "/incidents/$incident.json" '{"incident": {"status": "identified",
    "body": "A bad configuration push to `payments-edge` is the cause. Rolling back."}}' >/dev/null
step "update 1: identified"
call PATCH "/incidents/$incident.json" '{"incident": {"status": "monitoring",
    "body": "A fix has been deployed; we are watching error rates."}}' >/dev/null
step "update 2: monitoring"
call PATCH "/incidents/$incident.json" "{\"incident\": {\"body\": \"Error rates are steady.\",
    \"components\": {\"$webhooks\": \"operational\"}}}" >/dev/null
step "update 3: webhooks recovered"
call PATCH "/incidents/$incident.json" "{\"incident\": {\"status\": \"resolved\",
    \"body\": \"Error rates are back to normal. We will publish a write-up.\",
    \"components\": {\"$payments\": \"operational\"}}}" >/dev/null
step "resolved"

call PUT "/incidents/$incident/postmortem.json" \
    '{"postmortem": {"body_draft": "## What happened\n\nA bad configuration push."}}' >/dev/null
call PUT "/incidents/$incident/postmortem/publish.json" \
    '{"postmortem": {"notify_subscribers": false}}' >/dev/null
step "write-up published"
echo "$incident"
