-- The fleet console (docs/console.md). Every operator action the console was asked for, allowed or refused, with who
-- asked (the operator's name, or "anonymous"), what and the outcome: an append-only record, cut to console:auditMaxRows
-- and console:historyMaxAge by the console's sweep.
CREATE TABLE audit(
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_utc timestamptz NOT NULL,
    operator text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    outcome text NOT NULL,
    detail text NOT NULL);
CREATE INDEX audit_by_time ON audit(at_utc);
-- A running canary's cohort accuracies sampled every console:rolloutSampleInterval: the rollout chart's points. The
-- canary's reports are dropped once it is decided, so these rows are its history; bounded by the sample interval times
-- the canary window per canary, and cut by age.
CREATE TABLE rollout_points(
    name text NOT NULL,
    version text NOT NULL,
    at_utc timestamptz NOT NULL,
    canary_accuracy double precision,
    control_accuracy double precision,
    canary_reports bigint NOT NULL,
    control_reports bigint NOT NULL,
    PRIMARY KEY(name, version, at_utc));
CREATE INDEX rollout_points_by_time ON rollout_points(at_utc);
