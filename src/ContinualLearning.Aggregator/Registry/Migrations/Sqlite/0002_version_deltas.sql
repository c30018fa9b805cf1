-- Which version each aggregated delta went into, one row per delta id: "every accepted delta in at most one version"
-- is the primary key, not only a property of the code.
CREATE TABLE IF NOT EXISTS version_deltas(
    delta_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL);
INSERT OR IGNORE INTO version_deltas(delta_id, name, version)
    SELECT delta_id, name, version FROM seen_deltas WHERE state = 'aggregated' AND version IS NOT NULL;
