using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The enum ↔ stored text mapping, and registries written before the enums existed.</summary>
public sealed class WireTextTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-wiretext-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Every_member_maps_to_the_text_earlier_builds_stored()
    {
        Assert.Equal(
            ["malformed", "device-mismatch", "device-not-allowed", "unknown-model", "unknown-base-version", "rolled-back-base", "too-stale",
             "shape-mismatch", "non-finite", "norm-too-large", "duplicate", "no-samples", "empty", "future-timestamp", "expired", "pending-full",
             "device-quota", "label-mismatch", "too-many-new-classes", "retired-cluster", "cluster-moved"],
            Enum.GetValues<RejectionReason>().Select(r => r.ToText()));
        Assert.Equal(
            ["holdout-pass", "holdout-fail", "released", "canary-started", "promoted", "rolled-back", "published", "manual-rollback", "new-classes", "cluster-created", "cluster-retired"],
            Enum.GetValues<DecisionKind>().Select(d => d.ToText()));
        Assert.Equal(["pending", "aggregated", "dropped"], Enum.GetValues<DeltaState>().Select(s => s.ToText()));
    }

    [Fact]
    public void Text_parses_back_and_unknown_text_is_refused_by_name()
    {
        foreach (var reason in Enum.GetValues<RejectionReason>()) Assert.Equal(reason, WireText.Parse<RejectionReason>(reason.ToText()));
        foreach (var decision in Enum.GetValues<DecisionKind>()) Assert.Equal(decision, WireText.Parse<DecisionKind>(decision.ToText()));
        var e = Assert.Throws<InvalidDataException>(() => WireText.Parse<DecisionKind>("Promoted"));
        Assert.Contains("'Promoted'", e.Message);
        Assert.Contains("canary-started", e.Message);
    }

    [Fact]
    public void Decisions_serialise_to_json_as_their_stored_text()
    {
        // `cl model show --json` serialises decision records with plain reflection options.
        var record = new RolloutDecisionRecord(1, "m", "1.1.0", DecisionKind.CanaryStarted, DateTimeOffset.UnixEpoch, "r", "{}");
        Assert.Contains("\"Decision\":\"canary-started\"", System.Text.Json.JsonSerializer.Serialize(record));
    }

    [Fact]
    public void A_registry_written_with_text_values_reads_as_enums()
    {
        // Rows as an earlier build wrote them, straight into the file.
        ModelRegistry.Open(_dir).Dispose();
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_dir, ModelRegistry.DatabaseFileName)};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = """
                INSERT INTO decisions(name, version, decision, at_utc, reason, numbers) VALUES
                    ('m', '1.0.0', 'published', '2025-01-01T00:00:00.0000000Z', 'cl model publish', '{}'),
                    ('m', '1.1.0', 'holdout-pass', '2025-01-01T00:01:00.0000000Z', 'ok', '{}'),
                    ('m', '1.1.0', 'canary-started', '2025-01-01T00:01:00.0000000Z', 'cohort', '["c1"]'),
                    ('m', '1.1.0', 'rolled-back', '2025-01-01T00:02:00.0000000Z', 'worse', '{}'),
                    ('m', '1.0.0', 'manual-rollback', '2025-01-01T00:03:00.0000000Z', 'by hand', '{}');
                INSERT INTO rejections(at_utc, device_id, delta_id, reason, message) VALUES
                    ('2025-01-01T00:00:00.0000000Z', 'd1', NULL, 'unknown-base-version', 'x'),
                    ('2025-01-01T00:00:00.0000000Z', 'd1', NULL, 'unknown-base-version', 'x'),
                    ('2025-01-01T00:00:00.0000000Z', 'd2', NULL, 'norm-too-large', 'x');
                INSERT INTO seen_deltas(delta_id, name, device_id, base_version, received_utc, state, version) VALUES
                    ('a', 'm', 'd1', '1.0.0', '2025-01-01T00:00:00.0000000Z', 'aggregated', '1.1.0'),
                    ('b', 'm', 'd1', '1.0.0', '2025-01-01T00:00:00.0000000Z', 'dropped', NULL),
                    ('c', 'm', 'd1', '1.0.0', '2025-01-01T00:00:00.0000000Z', 'pending', NULL);
                """;
            cmd.ExecuteNonQuery();
        }

        using var reopened = ModelRegistry.Open(_dir);
        Assert.Equal(
            [DecisionKind.Published, DecisionKind.HoldoutPass, DecisionKind.CanaryStarted, DecisionKind.RolledBack, DecisionKind.ManualRollback],
            reopened.Decisions.List("m").Select(d => d.Decision));
        Assert.Equal(new Dictionary<RejectionReason, int> { [RejectionReason.UnknownBaseVersion] = 2, [RejectionReason.NormTooLarge] = 1 }, reopened.Rejections.Counts());
        Assert.Equal(new Dictionary<DeltaState, int> { [DeltaState.Aggregated] = 1, [DeltaState.Dropped] = 1, [DeltaState.Pending] = 1 }, reopened.Deltas.States());

        // What this build writes is the same text.
        reopened.Decisions.Record("m", "1.2.0", DecisionKind.HoldoutFail, "worse", "{}");
        reopened.Rejections.Record(new RejectionRecord(DateTimeOffset.UnixEpoch, "d3", null, RejectionReason.TooStale, "x"));
        reopened.Dispose();
        using var check = new SqliteConnection($"Data Source={Path.Combine(_dir, ModelRegistry.DatabaseFileName)};Pooling=False");
        check.Open();
        using var query = check.CreateCommand();
        query.CommandText = "SELECT (SELECT decision FROM decisions ORDER BY id DESC LIMIT 1) || ' ' || (SELECT reason FROM rejections ORDER BY id DESC LIMIT 1)";
        Assert.Equal("holdout-fail too-stale", query.ExecuteScalar());
    }
}
