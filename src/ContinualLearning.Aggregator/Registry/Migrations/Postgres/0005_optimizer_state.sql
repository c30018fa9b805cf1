-- The server optimiser's state (docs/federated.md, "Server optimisers and Krum"): the moments FedAvgM, FedAdam and
-- FedYogi carry from round to round, one row per version that an optimiser with state made, written in the transaction
-- that adds the version. A round reads the row of the release it builds on, so the state survives restarts, is shared by
-- every aggregator on the registry, and follows rollbacks. Vectors are little-endian float32 in the flattened head's
-- order; second_moment is NULL for FedAvgM.
CREATE TABLE optimizer_states(
    name text NOT NULL,
    version text NOT NULL,
    optimizer text NOT NULL,
    steps bigint NOT NULL,
    momentum bytea NOT NULL,
    second_moment bytea,
    PRIMARY KEY(name, version));
