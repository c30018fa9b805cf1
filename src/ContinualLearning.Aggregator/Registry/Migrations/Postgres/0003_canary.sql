-- The canary outlives the instance that started it: its cohort, control version and start time (one row per canary,
-- written in the transaction that moves the version to "canary"), and the telemetry counted so far, one row per
-- reporting device, so any instance can adopt and decide it after a restart or a crash.
CREATE TABLE canaries(
    name text NOT NULL,
    version text NOT NULL,
    control_version text NOT NULL,
    started_utc timestamptz NOT NULL,
    devices text NOT NULL,
    decided_utc timestamptz,
    PRIMARY KEY(name, version));
-- A device's reports as a running sum and count. last_report_utc is the device's own timestamp of the last counted
-- report: the upsert counts a report only when it is newer, so a QoS 1 redelivery, or the same report received by
-- every instance (telemetry is not a shared subscription), counts once.
CREATE TABLE canary_reports(
    name text NOT NULL,
    version text NOT NULL,
    device_id text NOT NULL,
    cohort text NOT NULL,
    accuracy_sum double precision NOT NULL,
    reports bigint NOT NULL,
    last_report_utc timestamptz NOT NULL,
    PRIMARY KEY(name, version, device_id));
-- Reports not counted, per instance (each instance sees every report, so the canary's figure is the largest count).
CREATE TABLE canary_ignored(
    name text NOT NULL,
    version text NOT NULL,
    instance_id text NOT NULL,
    ignored bigint NOT NULL,
    PRIMARY KEY(name, version, instance_id));
-- A version gets one verdict: two instances deciding the same canary cannot both record theirs.
CREATE UNIQUE INDEX decisions_one_verdict ON decisions(name, version) WHERE decision IN ('released', 'promoted', 'rolled-back');
-- The rollout outbox: a release row is allocated in the transaction that decides it, and sent_utc is set once it was
-- put on the wire, so a release allocated by an instance that died before publishing it is published by the next
-- tick of any instance. Releases from before this column were published when they were allocated.
ALTER TABLE releases ADD COLUMN sent_utc timestamptz;
UPDATE releases SET sent_utc = published_utc;
