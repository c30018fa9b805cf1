-- The registry's first schema on PostgreSQL: the SQLite tables with native types (identity, timestamptz, bytea) plus
-- the artifacts table (bundle containers by SHA-256), which SQLite registries keep as files instead.
CREATE TABLE versions(
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    version text NOT NULL,
    parent text,
    created_utc timestamptz NOT NULL,
    status text NOT NULL,
    artifact_sha256 text NOT NULL,
    delta_ids text NOT NULL DEFAULT '[]',
    device_ids text NOT NULL DEFAULT '[]',
    sample_counts text NOT NULL DEFAULT '[]',
    metrics text NOT NULL DEFAULT '{}',
    UNIQUE(name, version));
CREATE TABLE seen_deltas(
    delta_id text PRIMARY KEY,
    name text NOT NULL,
    device_id text NOT NULL,
    base_version text NOT NULL,
    received_utc timestamptz NOT NULL,
    state text NOT NULL,
    version text);
CREATE TABLE pending_deltas(
    delta_id text PRIMARY KEY,
    name text NOT NULL,
    device_id text NOT NULL,
    base_version text NOT NULL,
    sample_count bigint NOT NULL,
    received_utc timestamptz NOT NULL,
    payload bytea NOT NULL);
CREATE INDEX pending_by_name ON pending_deltas(name, received_utc);
CREATE INDEX pending_by_device ON pending_deltas(name, device_id);
CREATE INDEX seen_by_device ON seen_deltas(name, device_id);
CREATE TABLE rejections(
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_utc timestamptz NOT NULL,
    device_id text,
    delta_id text,
    reason text NOT NULL,
    message text NOT NULL);
CREATE TABLE decisions(
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    version text NOT NULL,
    decision text NOT NULL,
    at_utc timestamptz NOT NULL,
    reason text NOT NULL,
    numbers text NOT NULL);
CREATE TABLE releases(
    name text NOT NULL,
    sequence bigint NOT NULL,
    version text NOT NULL,
    cohort text NOT NULL,
    published_utc timestamptz NOT NULL,
    PRIMARY KEY(name, sequence));
CREATE TABLE artifacts(
    sha256 text PRIMARY KEY,
    bytes bytea NOT NULL,
    created_utc timestamptz NOT NULL);
