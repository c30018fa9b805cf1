using System.CommandLine;
using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Fleet.Signing;
using Spectre.Console;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl model ls | show | lineage | publish | rollback`: the aggregator registry.</summary>
internal static class ModelCommand
{
    public static Command Build()
    {
        var model = new Command("model", "Model versions in the aggregator registry.");
        var registry = CliCommon.RegistryOption();
        var connection = new Option<string?>("--registry-connection")
        {
            Description = "PostgreSQL registry's connection string (the aggregator's registry:connectionString); default $CL_AGGREGATOR_REGISTRY__CONNECTIONSTRING. --registry is then only a local working directory.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CL_AGGREGATOR_REGISTRY__CONNECTIONSTRING") is { Length: > 0 } env ? env : null,
        };
        var json = CliCommon.JsonOption();
        var name = new Option<string?>("--model") { Description = "Model name (needed when the registry holds several)." };
        var version = new Argument<string>("version") { Description = "Semantic version, e.g. 1.4.0." };

        var ls = new Command("ls", "List versions with status, parent and contributors.") { registry, connection, json, name };
        ls.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            using var reg = Open(pr.GetValue(registry)!, pr.GetValue(connection));
            var versions = reg.ListVersions(pr.GetValue(name));
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(versions.Select(Summary), CliCommon.Json));
                return Task.FromResult(0);
            }
            if (versions.Count == 0)
            {
                Console.WriteLine($"The registry {reg.Directory} holds no versions; seed it with `cl model publish <bundle-dir>`.");
                return Task.FromResult(0);
            }
            var table = new Table().AddColumns("Model", "Version", "Status", "Parent", "Created (UTC)", "Deltas", "Devices", "Samples", "Artifact");
            foreach (var v in versions)
                table.AddRow(v.Name, v.Version, v.Status, v.Parent ?? "-", v.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss"), v.DeltaIds.Count.ToString(),
                    v.DeviceIds.Distinct().Count().ToString(), v.SampleCounts.Sum().ToString(), v.ArtifactSha256[..12]);
            AnsiConsole.Write(table);
            return Task.FromResult(0);
        }));

        var show = new Command("show", "One version in full: lineage fields, metrics, decisions.") { registry, connection, json, name, version };
        show.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            using var reg = Open(pr.GetValue(registry)!, pr.GetValue(connection));
            var v = Find(reg, pr.GetValue(name), pr.GetValue(version)!);
            var decisions = reg.Decisions.List(v.Name, v.Version);
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { version = v, metrics = JsonDocument.Parse(v.MetricsJson).RootElement, decisions, cluster = reg.Clusters.ByModel(v.Name) }, CliCommon.Json));
                return Task.FromResult(0);
            }
            var grid = new Table().AddColumns("Field", "Value").HideHeaders();
            grid.AddRow("model", v.Name).AddRow("version", v.Version).AddRow("status", v.Status).AddRow("parent", v.Parent ?? "-")
                .AddRow("created", v.Created.ToString("O")).AddRow("artifact", reg.Artifacts is FileArtifactStore files ? files.PathOf(v.ArtifactSha256) : $"sha256:{v.ArtifactSha256} in {reg.Artifacts.Location}")
                .AddRow("deltas", v.DeltaIds.Count.ToString()).AddRow("devices", Markup.Escape(string.Join(", ", v.DeviceIds.Distinct())))
                .AddRow("samples", v.SampleCounts.Sum().ToString()).AddRow("metrics", Markup.Escape(v.MetricsJson));
            grid.AddRow("privacy", Markup.Escape(ContinualLearning.Aggregator.Privacy.PrivacyRecord.Describe(v.MetricsJson) ?? "no differential privacy"));
            if (reg.Clusters.ByModel(v.Name) is { } cluster) grid.AddRow("cluster", Markup.Escape(DescribeCluster(cluster, v)));
            AnsiConsole.Write(grid);
            if (decisions.Count > 0)
            {
                var t = new Table().AddColumns("When (UTC)", "Decision", "Reason", "Numbers");
                foreach (var d in decisions) t.AddRow(d.At.UtcDateTime.ToString("HH:mm:ss"), d.Decision.ToText(), Markup.Escape(d.Reason), Markup.Escape(d.NumbersJson));
                AnsiConsole.Write(t);
            }
            return Task.FromResult(0);
        }));

        var lineage = new Command("lineage", "The chain of parents of a version back to the seed.") { registry, connection, json, name, version };
        lineage.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            using var reg = Open(pr.GetValue(registry)!, pr.GetValue(connection));
            var v = Find(reg, pr.GetValue(name), pr.GetValue(version)!);
            var chain = CrossModelLineage(reg, v);
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(chain.Select(Summary), CliCommon.Json));
                return Task.FromResult(0);
            }
            var tree = new Tree($"{v.Name} lineage");
            foreach (var c in chain)
            {
                // A cluster's first version continues the chain in the model it was created from.
                var from = c.Parent ?? (reg.Clusters.ByModel(c.Name) is { ParentModel: { } pm, ParentVersion: { } pv } && c.Version == ContinualLearning.Aggregator.Clustering.ClusterBirth.FirstVersion ? $"{pm} {pv} (cluster created)" : "(seed)");
                var model = c.Name == v.Name ? "" : $"{c.Name} ";
                tree.AddNode(Markup.Escape($"{model}{c.Version} [{c.Status}] ← {from}: {c.DeltaIds.Count} deltas from {c.DeviceIds.Distinct().Count()} devices, {c.SampleCounts.Sum()} samples"));
            }
            if (reg.Clusters.ByModel(v.Name) is { } cluster) tree.AddNode(Markup.Escape(DescribeCluster(cluster, v)));
            AnsiConsole.Write(tree);
            return Task.FromResult(0);
        }));

        var bundleDir = new Argument<string>("bundle-dir") { Description = "Bundle directory (manifest.json, head.safetensors)." };
        var broker = CliCommon.BrokerOption();
        var fleet = CliCommon.FleetOption();
        var key = new Option<string?>("--key") { Description = "Fleet private key (release.key); with it the version is also published as a signed release to all devices." };
        var publish = new Command("publish", "Register a bundle as the released global version (seeds the aggregator); with --key also publish it to the fleet.") { registry, connection, bundleDir, broker, fleet, key };
        var credentials = CliCommon.CredentialOptions(); // releases are published with an aggregator certificate (FleetAcl)
        credentials.AddTo(publish);
        publish.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            using var reg = Open(pr.GetValue(registry)!, pr.GetValue(connection));
            var loaded = RegistryModels.Import(reg, pr.GetValue(bundleDir)!, VersionStatus.Released);
            var keyPath = pr.GetValue(key);
            var published = OperatorReleases.Publish(reg, loaded.Record, "cl model publish", allocate: keyPath is not null);
            Console.WriteLine($"registered {loaded.Record.Name} {loaded.Record.Version} (artifact {loaded.Record.ArtifactSha256[..12]}) as released");
            if (keyPath is not null)
                await SendAsync(reg, published, pr.GetValue(broker)!, pr.GetValue(fleet)!, keyPath, credentials.Read(pr), ct);
            return 0;
        }));

        var keyRequired = new Option<string>("--key") { Description = "Fleet private key (release.key).", Required = true };
        var rollback = new Command("rollback", "Make <version> the fleet's release again: re-publish it to all and mark newer released versions rolled-back.") { registry, connection, name, version, broker, fleet, keyRequired };
        credentials.AddTo(rollback);
        rollback.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            using var reg = Open(pr.GetValue(registry)!, pr.GetValue(connection));
            var target = Find(reg, pr.GetValue(name), pr.GetValue(version)!);
            var rolled = OperatorReleases.Rollback(reg, target, "cl model rollback");
            await SendAsync(reg, rolled, pr.GetValue(broker)!, pr.GetValue(fleet)!, pr.GetValue(keyRequired)!, credentials.Read(pr), ct);
            Console.WriteLine($"{target.Name} {target.Version} is the release again; rolled back: {(rolled.RolledBack.Count == 0 ? "none" : string.Join(", ", rolled.RolledBack))}");
            return 0;
        }));

        foreach (var c in new[] { ls, show, lineage, publish, rollback }) model.Subcommands.Add(c);
        return model;
    }

    private static ModelRegistry Open(string path, string? connection)
    {
        if (connection is not null)
        {
            if (PostgresRegistryDatabase.Problem(connection) is { } problem)
                throw new CliException($"--registry-connection {problem}; give an Npgsql connection string such as \"Host=db1;Database=cl;Username=cl\".");
            return ModelRegistry.Open(RegistryLocation.Postgres(connection, path));
        }
        if (!Directory.Exists(path))
            throw new CliException($"Registry directory '{Path.GetFullPath(path)}' does not exist; pass --registry (the aggregator's RegistryPath).");
        return ModelRegistry.Open(path);
    }

    private static ModelVersionRecord Find(ModelRegistry registry, string? name, string version)
    {
        var matches = registry.ListVersions(name).Where(v => v.Version == version).ToArray();
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new CliException($"Version {version}{(name is null ? "" : $" of {name}")} is not in the registry {registry.Directory}; `cl model ls` lists versions."),
            _ => throw new CliException($"Version {version} exists for several models ({string.Join(", ", matches.Select(m => m.Name))}); pass --model."),
        };
    }

    /// <summary>Parents back to the seed; from a cluster's first version on into the model and version the cluster was created from.</summary>
    private static List<ModelVersionRecord> CrossModelLineage(ModelRegistry registry, ModelVersionRecord version)
    {
        var chain = new List<ModelVersionRecord>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (ModelVersionRecord? v = version; v is not null && seen.Add(v.Name);)
        {
            var part = registry.Lineage(v.Name, v.Version);
            chain.AddRange(part);
            var root = part[^1];
            v = registry.Clusters.ByModel(root.Name) is { ParentModel: { } pm, ParentVersion: { } pv } && root.Parent is null && root.Version == ContinualLearning.Aggregator.Clustering.ClusterBirth.FirstVersion
                ? registry.GetVersion(pm, pv)
                : null;
        }
        return chain;
    }

    private static string DescribeCluster(ClusterRecord cluster, ModelVersionRecord v)
    {
        var text = cluster.Cluster == 0
            ? $"cluster 0 of {cluster.BaseModel} (the base model)"
            : $"cluster {cluster.Cluster} of {cluster.BaseModel}, created in clustering round {cluster.CreatedRound} from {cluster.ParentModel} {cluster.ParentVersion} with the delta of {cluster.CreatorDevice}";
        if (cluster.Retired is { } retired)
            text += $"; retired {retired:O}{(cluster.MergedInto is { } into ? $", merged into cluster {into}" : "")}";
        return v.Version == ContinualLearning.Aggregator.Clustering.ClusterBirth.FirstVersion && cluster.Cluster != 0 ? text + " (this is its first version)" : text;
    }

    private static object Summary(ModelVersionRecord v) => new
    {
        v.Name, v.Version, v.Status, v.Parent, v.Created, v.ArtifactSha256,
        Deltas = v.DeltaIds.Count, Devices = v.DeviceIds.Distinct().Count(), Samples = v.SampleCounts.Sum(),
        Metrics = JsonDocument.Parse(v.MetricsJson).RootElement,
    };

    // The release sequence comes from the registry (OperatorReleases allocated it with the decision), like the
    // aggregator's, so a manual publish or rollback outranks every release before it (devices install a rollback only
    // because its sequence is higher).
    private static async Task SendAsync(ModelRegistry registry, OperatorRelease decided, string broker, string fleet, string keyPath, BrokerCredentials credentials, CancellationToken ct)
    {
        using var key = ReleaseKeys.LoadPrivate(keyPath);
        await using var client = CliCommon.Client(broker, "cl-model", credentials);
        await CliCommon.ConnectAsync(client, broker, ct);
        var release = await OperatorReleases.SendAsync(registry, new ReleasePublisher(client, fleet, key), decided.Target, decided.Sequence!.Value, ct);
        Console.WriteLine($"published release {release.ModelName} {release.Version} to cohort '{release.Cohort}' on fleet {fleet} ({release.ChunkCount} chunks, key {release.KeyId}, release sequence {release.Sequence})");
    }
}
