-- Concept-aware aggregation (docs/federated.md, "Concept-aware aggregation"): every cluster of a base model is a
-- registry model of its own (cluster 0 = the base model, cluster k = "{base}.c{k}"). One row per cluster ever made,
-- with the model and version it was created from (its first version's cross-model parent), who created it, and when
-- it was retired (merged into another, or evicted at the cap). Written in the transaction of the clustering step.
CREATE TABLE clusters(
    base_model TEXT NOT NULL,
    cluster INTEGER NOT NULL,
    model_name TEXT NOT NULL UNIQUE,
    parent_model TEXT,
    parent_version TEXT,
    creator_device TEXT,
    created_round INTEGER NOT NULL,
    created_utc TEXT NOT NULL,
    retired_utc TEXT,
    merged_into INTEGER,
    PRIMARY KEY(base_model, cluster));
-- The clustering's memory per base model: ConceptClustering's exported state (JSON), the clustering round counter, the
-- last cluster-directory sequence published (strictly increasing), and per device the last delta whose loss report
-- the clustering counted (a report is counted once, however many ticks its delta stays buffered).
CREATE TABLE clustering_state(
    base_model TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    round INTEGER NOT NULL,
    directory_sequence INTEGER NOT NULL,
    directory_json TEXT,
    counted_reports TEXT NOT NULL,
    updated_utc TEXT NOT NULL);
