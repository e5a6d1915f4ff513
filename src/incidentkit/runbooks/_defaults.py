"""The guide's six common runbooks, shipped as editable defaults (``incidentkit runbooks init``).

Each follows the guide's template. Their Quick Mitigation options name the
built-in mitigation actions (``rollback``, ``scale``, ``feature_flag``,
``circuit_breaker``, ``maintenance_mode``): register those actions (or edit
the files) before loading them, since a runbook naming an unregistered action
is refused. Escalation goes to incident roles, which every policy knows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from incidentkit.errors import ValidationError

__all__ = ["DEFAULT_RUNBOOKS", "write_defaults"]

_HIGH_ERROR_RATE = """\
+++
id = "high-error-rate"
title = "High error rate"
services = []
severity = "SEV2"
symptoms = ["500", "5xx", "error rate", "internal server error"]
owner = "platform-team"
review_every = "90d"
last_reviewed = {today}
alerts = [
    {{alertname = "HighErrorRate"}},
    {{alertname = "Http5xxRate"}},
]
escalation = [
    {{after = "15m", to = "role:technical_lead"}},
    {{after = "30m", to = "role:incident_commander"}},
]
+++
# Runbook: High error rate

## Symptoms
- Users see "500 Internal Server Error" or failed requests
- The 5xx rate on the API dashboard is above its baseline
- Logs show unhandled exceptions or upstream connection errors

## Severity
SEV2 (SEV1 when more than half of all requests fail)

## Detection
- Alerts HighErrorRate / Http5xxRate from the API's request metrics
- The error-rate panel of the service dashboard

## Triage Steps
1. Check the error-rate dashboard and note when the increase started
2. Review the most frequent errors: `grep "ERROR" /var/log/app.log | sort | uniq -c`
3. Compare the start time with the latest deployment and config change
4. Verify that the database and the main upstream APIs are responding

## Quick Mitigation
### Option 1: Rollback
Roll back the latest deployment when the errors started with it.
action: rollback {{reason = "error rate rose after the latest deployment"}}

### Option 2: Scale out
Add capacity when the errors are timeouts under load.
action: scale {{resource = "api", delta = 2}}

## Investigation
1. Find the first failing request in the traces and its stack trace
2. Check recent deployments and feature-flag changes
3. Check the error budget burn and which endpoints are affected

## Resolution Steps
1. Deploy the fix or keep the rollback in place
2. Verify the error rate is back to its baseline for 15 minutes
3. Keep monitoring the dashboard for one hour

## Escalation
- If the issue persists > 15 minutes, escalate to the technical lead
- If it persists > 30 minutes, escalate to the incident commander

## Related Incidents
- Incidents this runbook was attached to are listed by `incidentkit runbooks show`

## Related Documentation
- API architecture overview
- API service dashboard
"""

_HIGH_LATENCY = """\
+++
id = "high-latency"
title = "High latency"
services = []
severity = "SEV3"
symptoms = ["latency", "slow", "timeout", "p99"]
owner = "platform-team"
review_every = "90d"
last_reviewed = {today}
alerts = [
    {{alertname = "HighLatency"}},
    {{alertname = "SlowResponses"}},
]
escalation = [
    {{after = "30m", to = "role:technical_lead"}},
]
+++
# Runbook: High latency

## Symptoms
- Pages load slowly; clients time out
- p95/p99 latency above the objective on the dashboard

## Severity
SEV3 (SEV2 when checkout or login time out)

## Detection
- Alerts HighLatency / SlowResponses on p99 latency
- Synthetic checks timing out

## Triage Steps
1. Check the latency dashboard by endpoint and find the slowest ones
2. Check CPU, memory and saturation of the service's instances
3. Check database slow queries and connection-pool waits
4. Check the latency of the external APIs the slow endpoints call

## Quick Mitigation
### Option 1: Scale out
action: scale {{resource = "api", delta = 2}}

### Option 2: Open the circuit breaker of a slow dependency
action: circuit_breaker {{name = "recommendations", state = "open"}}

## Investigation
1. Profile a slow request from the traces
2. Look for new queries without an index
3. Check for lock contention or a garbage-collection storm

## Resolution Steps
1. Remove the cause (index, query fix, capacity, dependency fix)
2. Verify p99 latency is back under its objective
3. Close the circuit breaker again and watch for an hour

## Escalation
- If the issue persists > 30 minutes, escalate to the technical lead

## Related Incidents
- Listed by `incidentkit runbooks show high-latency`

## Related Documentation
- Capacity plan
- Latency dashboard
"""

_DATABASE = """\
+++
id = "database-issues"
title = "Database issues"
services = ["database"]
severity = "SEV2"
symptoms = ["database", "connection refused", "too many connections", "slow query", "deadlock"]
owner = "database-team"
review_every = "90d"
last_reviewed = {today}
alerts = [
    {{alertname = "DatabaseDown"}},
    {{alertname = "DatabaseConnectionsExhausted"}},
    {{alertname = "SlowQueries"}},
]
escalation = [
    {{after = "10m", to = "role:technical_lead"}},
    {{after = "20m", to = "role:incident_commander"}},
]
+++
# Runbook: Database issues

## Symptoms
- Errors such as "connection refused" or "too many connections"
- Requests hang on database calls; slow-query log grows

## Severity
SEV2 (SEV1 when the primary is down or data is at risk)

## Detection
- Alerts DatabaseDown, DatabaseConnectionsExhausted, SlowQueries
- Database dashboard: connections, replication lag, query latency

## Triage Steps
1. Check that the primary accepts connections and replicas are in sync
2. Count connections by client and state (`SELECT state, count(*) FROM pg_stat_activity GROUP BY 1`)
3. List the longest-running queries and any locks they hold
4. Check disk space and IO saturation on the database hosts

## Quick Mitigation
### Option 1: Turn off the expensive feature
action: feature_flag {{flag = "reports-export", enabled = false}}

### Option 2: Maintenance mode
action: maintenance_mode {{message = "We are fixing a database problem; back shortly."}}

## Investigation
1. Find the query or client that started the load
2. Check recent migrations and schema changes
3. Check the connection-pool settings of each client

## Resolution Steps
1. Cancel runaway queries or add the missing index
2. Verify connections, latency and replication lag are normal
3. Turn the feature back on and watch the database dashboard for an hour

## Escalation
- If the issue persists > 10 minutes, escalate to the technical lead
- For data loss or a failed primary, page the database administrator at once

## Related Incidents
- Listed by `incidentkit runbooks show database-issues`

## Related Documentation
- Database topology and failover procedure
- Backup and restore guide
"""

_DEPLOYMENT = """\
+++
id = "deployment-failures"
title = "Deployment failures"
services = []
severity = "SEV3"
symptoms = ["deploy", "deployment", "rollout", "crashloop", "release"]
owner = "release-team"
review_every = "90d"
last_reviewed = {today}
alerts = [
    {{alertname = "DeploymentFailed"}},
    {{alertname = "KubePodCrashLooping"}},
]
escalation = [
    {{after = "15m", to = "role:technical_lead"}},
]
+++
# Runbook: Deployment failures

## Symptoms
- A rollout does not finish or new instances crash at start
- Errors or latency rise right after a release

## Severity
SEV3 (SEV2 when users are affected)

## Detection
- Alerts DeploymentFailed / KubePodCrashLooping
- The deploy pipeline reports a failed health check

## Triage Steps
1. Identify the release and when it started rolling out
2. Check the new instances' start-up logs for the failure
3. Check whether users are affected (error rate, latency)

## Quick Mitigation
### Option 1: Rollback
action: rollback {{reason = "failed deployment"}}

### Option 2: Turn off the new feature
action: feature_flag {{flag = "new-release-feature", enabled = false}}

## Investigation
1. Diff the failing release against the last good one
2. Check config and secrets the new release expects
3. Check migrations run by the release

## Resolution Steps
1. Fix forward or keep the previous release
2. Verify the health checks pass on every instance
3. Watch error rate and latency for 30 minutes after the new rollout

## Escalation
- If the rollback does not help within 15 minutes, escalate to the technical lead

## Related Incidents
- Listed by `incidentkit runbooks show deployment-failures`

## Related Documentation
- Hotfix deployment guide
- Release pipeline
"""

_SECURITY = """\
+++
id = "security-incidents"
title = "Security incidents"
services = []
severity = "SEV1"
symptoms = ["breach", "unauthorized", "leaked", "credential", "intrusion", "malware"]
owner = "security-team"
review_every = "90d"
last_reviewed = {today}
alerts = [
    {{alertname = "SuspiciousLogin"}},
    {{alertname = "SecretLeaked"}},
]
escalation = [
    {{after = "5m", to = "role:incident_commander"}},
]
+++
# Runbook: Security incidents

## Symptoms
- Unauthorized access, unexpected admin actions, leaked credentials
- Alerts from the intrusion detection or secret scanning

## Severity
SEV1 (any suspected breach of customer data)

## Detection
- Alerts SuspiciousLogin / SecretLeaked
- Reports from customers, researchers or staff

## Triage Steps
1. Confirm the signal and record what was seen, when and by whom
2. Identify the affected systems, accounts and data
3. Preserve evidence: snapshot logs and hosts before changing them
4. Limit discussion to the incident channel and the security lead

## Quick Mitigation
### Option 1: Maintenance mode
action: maintenance_mode {{message = "We are investigating an issue; service will resume shortly."}}

### Option 2: Revoke and rotate
Revoke the leaked credentials and rotate the secrets they could reach.

## Investigation
1. Establish the entry point and the timeline of the attacker's actions
2. Determine what data was accessed or taken
3. Check other systems for the same indicators

## Resolution Steps
1. Close the entry point and rotate every exposed secret
2. Verify no unauthorized access continues
3. Decide with legal on notification duties and deadlines

## Escalation
- Page the incident commander within 5 minutes
- Involve legal and communications before any external statement

## Related Incidents
- Listed by `incidentkit runbooks show security-incidents`

## Related Documentation
- Security incident response policy
- Data classification guide
"""

_THIRD_PARTY = """\
+++
id = "third-party-outages"
title = "Third-party outages"
services = []
severity = "SEV3"
symptoms = ["third party", "upstream", "provider", "external api", "503"]
owner = "platform-team"
review_every = "90d"
last_reviewed = {today}
alerts = [
    {{alertname = "UpstreamUnavailable"}},
    {{alertname = "ExternalApiErrors"}},
]
escalation = [
    {{after = "30m", to = "role:technical_lead"}},
]
+++
# Runbook: Third-party outages

## Symptoms
- Calls to an external API fail or time out
- Features that depend on the provider degrade

## Severity
SEV3 (SEV2 when payments or login depend on the provider)

## Detection
- Alerts UpstreamUnavailable / ExternalApiErrors
- The provider's status page

## Triage Steps
1. Check the provider's status page and support channel
2. Confirm from our logs which calls fail and since when
3. Identify which features depend on the provider

## Quick Mitigation
### Option 1: Open the circuit breaker
action: circuit_breaker {{name = "payments-provider", state = "open"}}

### Option 2: Turn off the dependent feature
action: feature_flag {{flag = "provider-feature", enabled = false}}

## Investigation
1. Check whether only some regions or credentials are affected
2. Check for changes on our side (keys, quotas, API versions)

## Resolution Steps
1. Close the circuit breaker when the provider recovers
2. Verify the calls succeed and queued work drains
3. Post a status update naming the provider's recovery

## Escalation
- If the outage persists > 30 minutes, escalate to the technical lead

## Related Incidents
- Listed by `incidentkit runbooks show third-party-outages`

## Related Documentation
- Provider contracts and support contacts
- Dependency map
"""

DEFAULT_RUNBOOKS: dict[str, str] = {
    "high-error-rate.md": _HIGH_ERROR_RATE,
    "high-latency.md": _HIGH_LATENCY,
    "database-issues.md": _DATABASE,
    "deployment-failures.md": _DEPLOYMENT,
    "security-incidents.md": _SECURITY,
    "third-party-outages.md": _THIRD_PARTY,
}
"""File name → text (a template: ``{today}`` becomes the ``last_reviewed`` date)."""


def write_defaults(directory: str | Path, *, today: date, overwrite: bool = False) -> list[Path]:
    """Write the six common runbooks into ``directory`` (created if missing).

    :raises ValidationError: (``directory``) when a file exists and ``overwrite`` is false;
        nothing is written then.
    """
    root = Path(directory)
    targets = [root / name for name in DEFAULT_RUNBOOKS]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not overwrite:
        raise ValidationError("directory", f"would overwrite {', '.join(existing)}")
    root.mkdir(parents=True, exist_ok=True)
    for path, text in zip(targets, DEFAULT_RUNBOOKS.values(), strict=True):
        path.write_text(text.format(today=today.isoformat()), encoding="utf-8")
    return targets
