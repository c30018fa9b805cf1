-- The fleet console (docs/console.md). Every operator action the console was asked for, allowed or refused, with who
-- asked (the operator's name, or "anonymous"), what and the outcome: an append-only record, cut to console:auditMaxRows
-- and console:historyMaxAge by the console's sweep.
CREATE TABLE audit(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_utc TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX audit_by_time ON audit(at_utc);
-- A running canary's cohort accuracies sampled every console:rolloutSampleInterval: the rollout chart's points. The
-- canary's reports are dropped once it is decided, so these rows are its history; bounded by the sample interval times
-- the canary window per canary, and cut by age.
CREATE TABLE rollout_points(
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    at_utc TEXT NOT NULL,
    canary_accuracy REAL,
    control_accuracy REAL,
    canary_reports INTEGER NOT NULL,
    control_reports INTEGER NOT NULL,
    PRIMARY KEY(name, version, at_utc));
CREATE INDEX rollout_points_by_time ON rollout_points(at_utc);
