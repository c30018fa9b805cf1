-- The registry's first schema. IF NOT EXISTS throughout: a registry created before migrations were numbered already
-- has these tables and indexes, and adopts version 1 unchanged.
CREATE TABLE IF NOT EXISTS versions(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    parent TEXT,
    created_utc TEXT NOT NULL,
    status TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    delta_ids TEXT NOT NULL DEFAULT '[]',
    device_ids TEXT NOT NULL DEFAULT '[]',
    sample_counts TEXT NOT NULL DEFAULT '[]',
    metrics TEXT NOT NULL DEFAULT '{}',
    UNIQUE(name, version));
CREATE TABLE IF NOT EXISTS seen_deltas(
    delta_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    device_id TEXT NOT NULL,
    base_version TEXT NOT NULL,
    received_utc TEXT NOT NULL,
    state TEXT NOT NULL,
    version TEXT);
CREATE TABLE IF NOT EXISTS pending_deltas(
    delta_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    device_id TEXT NOT NULL,
    base_version TEXT NOT NULL,
    sample_count INTEGER NOT NULL,
    received_utc TEXT NOT NULL,
    payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS pending_by_name ON pending_deltas(name, received_utc);
CREATE INDEX IF NOT EXISTS pending_by_device ON pending_deltas(name, device_id);
CREATE INDEX IF NOT EXISTS seen_by_device ON seen_deltas(name, device_id);
CREATE TABLE IF NOT EXISTS rejections(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_utc TEXT NOT NULL,
    device_id TEXT,
    delta_id TEXT,
    reason TEXT NOT NULL,
    message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    decision TEXT NOT NULL,
    at_utc TEXT NOT NULL,
    reason TEXT NOT NULL,
    numbers TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS releases(
    name TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    version TEXT NOT NULL,
    cohort TEXT NOT NULL,
    published_utc TEXT NOT NULL,
    PRIMARY KEY(name, sequence));
