-- The server optimiser's state (docs/federated.md, "Server optimisers and Krum"): the moments FedAvgM, FedAdam and
-- FedYogi carry from round to round, one row per version that an optimiser with state made, written in the transaction
-- that adds the version. A round reads the row of the release it builds on, so the state survives restarts, is shared by
-- every aggregator on the registry, and follows rollbacks. Vectors are little-endian float32 in the flattened head's
-- order; second_moment is NULL for FedAvgM.
CREATE TABLE optimizer_states(
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    steps INTEGER NOT NULL,
    momentum BLOB NOT NULL,
    second_moment BLOB,
    PRIMARY KEY(name, version));
