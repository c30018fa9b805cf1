-- Which version each aggregated delta went into, one row per delta id: "every accepted delta in at most one version"
-- is the primary key, not only a property of the code.
CREATE TABLE version_deltas(
    delta_id text PRIMARY KEY,
    name text NOT NULL,
    version text NOT NULL);
