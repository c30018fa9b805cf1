// Build script: `dotnet tool restore`, then `dotnet cake --target=<Target>`.
// Targets: Clean, Restore, Build, UnitTest, IntegrationTest, Test (default), Bench, Publish, PublishDevice, PackageDeb.
// Options: --configuration=Release|Debug, --runtimes=linux-x64,linux-arm64, --bench-filter='*Gemm*'.
// Device packaging: --device-runtimes=linux-arm64,linux-x64, --deb-version=0.1.0, --fleet-public-key=path.pem, --device-torch=false (docs/device-images.md).

var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var runtimes = Argument("runtimes", "linux-x64,linux-arm64").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var benchFilter = Argument("bench-filter", "*");
var solution = "./ContinualLearning.sln";
var artifacts = Directory("./artifacts");

Task("Clean")
    .Does(() =>
{
    CleanDirectory(artifacts);
    DotNetClean(solution, new DotNetCleanSettings { Configuration = configuration });
});

Task("Restore")
    .Does(() => DotNetRestore(solution));

Task("Build")
    .IsDependentOn("Restore")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration, NoRestore = true });
});

Task("UnitTest")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest("./tests/ContinualLearning.UnitTests/ContinualLearning.UnitTests.csproj", new DotNetTestSettings
    {
        Configuration = configuration, NoBuild = true, NoRestore = true,
        Loggers = new[] { "console;verbosity=normal" },
    });
});

// Needs a Mosquitto binary on PATH (.ci/run installs it); the fixture starts its own broker on a free loopback port.
Task("IntegrationTest")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetTest("./tests/ContinualLearning.Tests/ContinualLearning.Tests.csproj", new DotNetTestSettings
    {
        Configuration = configuration, NoBuild = true, NoRestore = true,
        Loggers = new[] { "console;verbosity=normal" },
    });
});

Task("Test")
    .IsDependentOn("UnitTest")
    .IsDependentOn("IntegrationTest");

Task("Bench")
    .Does(() =>
{
    DotNetRun("./benchmarks/ContinualLearning.Benchmarks/ContinualLearning.Benchmarks.csproj",
        new ProcessArgumentBuilder().Append("--filter").AppendQuoted(benchFilter),
        new DotNetRunSettings { Configuration = "Release" });
});

// Self-contained `cl` for each runtime. On linux-arm64 there is no libtorch: the managed engine is used.
Task("Publish")
    .IsDependentOn("Restore")
    .Does(() =>
{
    foreach (var rid in runtimes)
    {
        DotNetPublish("./src/ContinualLearning.Cli/ContinualLearning.Cli.csproj", new DotNetPublishSettings
        {
            Configuration = configuration,
            Runtime = rid,
            SelfContained = true,
            OutputDirectory = artifacts + Directory("publish") + Directory(rid),
        });
        Information($"Published cl for {rid} to {artifacts}/publish/{rid}");
    }
});

// ---- Device packaging (device-images/, docs/device-images.md) ----
var deviceRuntimes = Argument("device-runtimes", "linux-arm64,linux-x64").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var debVersion = Argument("deb-version", "0.1.0");
var fleetPublicKey = Argument("fleet-public-key", "");
// true: the linux-x64 package ships the torch variant of cl-device instead (JIT-compiled, links TorchSharp and libtorch:
// ~105 MB .deb, ~110 MB more RSS when torch is used). Default false: native AOT, managed engine, like arm64.
var deviceTorch = Argument("device-torch", false);
// Native AOT fixes the x64 instruction set at build time: empty = every x86-64-v2 CPU (128-bit SIMD in the managed
// engine); x86-64-v3 = AVX2 machines only (256-bit), refused at start elsewhere. arm64 always has NEON.
var deviceX64Isa = Argument("device-x64-isa", "");

// Debian architecture names for the runtimes we package.
string DebArch(string rid) => rid switch
{
    "linux-arm64" => "arm64",
    "linux-x64" => "amd64",
    _ => throw new ArgumentException($"No .deb mapping for runtime '{rid}'; use linux-arm64 or linux-x64."),
};

// `cl-device` for devices: artifacts/device/<rid>/ (the daemon alone; fleet tools stay in `cl`), debug symbols in
// artifacts/device/symbols/<rid>/. Native AOT (src/ContinualLearning.Device.Daemon): compiled and trimmed ahead of
// time, no JIT — that is what keeps the daemon under the 80 MB RSS goal (docs/benchmarks.md, "Device footprint").
// Cross-compiling linux-arm64 on an x64 host needs clang, llvm (llvm-objcopy) and the aarch64 cross toolchain
// (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross); .ci/run installs them.
Task("PublishDevice")
    .Does(() =>
{
    foreach (var tool in new[] { "clang", "llvm-objcopy" })
        if (StartProcess("sh", new ProcessSettings { Arguments = $"-c \"command -v {tool}\"", RedirectStandardOutput = true }) != 0)
            throw new InvalidOperationException($"{tool} is not on PATH: native AOT links cl-device with clang and splits symbols with llvm-objcopy. "
                + "Install them (Debian: apt-get install clang llvm gcc-aarch64-linux-gnu libc6-dev-arm64-cross) and run again.");
    foreach (var rid in deviceRuntimes)
    {
        var output = artifacts + Directory("device") + Directory(rid);
        var symbols = artifacts + Directory("device") + Directory("symbols") + Directory(rid);
        CleanDirectory(output);
        CleanDirectory(symbols);
        var torch = deviceTorch && rid == "linux-x64";
        var settings = new DotNetMSBuildSettings()
            // Devices do not debug in place: no .pdb/.xml next to the binaries (a few MB on flash). Native AOT still needs
            // debug info to write cl-device.dbg, which goes to artifacts/device/symbols/ below, not into the package.
            .WithProperty("DebugType", torch ? "none" : "portable")
            .WithProperty("GenerateDocumentationFile", "false")
            // Without documentation files the compiler cannot run IDE0005 and fails the build (EnableGenerateDocumentationFile);
            // code style is enforced by every ordinary build, not by the device publish.
            .WithProperty("EnforceCodeStyleInBuild", "false");
        if (!torch && rid == "linux-x64" && deviceX64Isa.Length > 0)
            settings = settings.WithProperty("IlcInstructionSet", deviceX64Isa);
        if (torch)
            // libtorch for linux-x64 ships to x64 devices, and they run Debian 12 class systems: always weaken the GLIBCXX need.
            settings = settings.WithProperty("ClDeviceTorch", "true").WithProperty("TorchSharpWeakGlibcxx", "always");
        DotNetPublish("./src/ContinualLearning.Device.Daemon/ContinualLearning.Device.Daemon.csproj", new DotNetPublishSettings
        {
            Configuration = "Release",
            Runtime = rid,
            SelfContained = true,
            OutputDirectory = output,
            MSBuildSettings = settings,
        });
        // Native AOT writes cl-device.dbg (the symbols stripped from cl-device): keep it for crash analysis, not on devices.
        foreach (var f in GetFiles($"{output}/*.dbg")) MoveFile(f, symbols + File(f.GetFilename().FullPath));
        // The ONNX Runtime package also drops its Windows onnxruntime*.dll into linux outputs: never loaded here.
        foreach (var f in GetFiles($"{output}/*.dll").Where(f => f.GetFilename().FullPath.StartsWith("onnxruntime", StringComparison.Ordinal))) DeleteFile(f);
        foreach (var f in GetFiles($"{output}/*.pdb").Concat(GetFiles($"{output}/*.xml"))) DeleteFile(f);
        // libtorch-cpu ships Python bindings and test/backend-demo libraries TorchSharp never loads: not for devices.
        foreach (var name in new[] { "libtorch_python.so", "libjitbackend_test.so", "libtorchbind_test.so", "libaoti_custom_ops.so", "libbackend_with_compiler.so", "libnnapi_backend.so" })
            foreach (var f in GetFiles($"{output}/**/{name}")) DeleteFile(f);
        if (!torch && GetFiles($"{output}/**/libtorch*.so*").Any())
            throw new InvalidOperationException($"libtorch natives in the {rid} cl-device output without --device-torch: the native AOT daemon must not carry them.");
        var bytes = System.IO.Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Sum(f => new System.IO.FileInfo(f).Length);
        Information($"Published cl-device for {rid} ({(torch ? "JIT, torch engine" : "native AOT, managed engine")}) to {output} ({bytes / 1048576.0:0.0} MB)");
    }
});

// A .deb per runtime: artifacts/device/continual-learning_<version>_<arch>.deb. Layout:
//   /opt/continual-learning/ (the publish output), /usr/bin/cl-device -> /opt/continual-learning/cl-device,
//   /etc/continual-learning/device.json + fleet-public.pem (conffiles), /lib/systemd/system/cl-device.service,
//   /lib/udev/rules.d/60-continual-learning-gpio.rules; postinst creates the cl-device system user.
Task("PackageDeb")
    .IsDependentOn("PublishDevice")
    .Does(() =>
{
    var templates = MakeAbsolute(Directory("./device-images/deb"));
    foreach (var rid in deviceRuntimes)
    {
        var arch = DebArch(rid);
        var publish = MakeAbsolute(artifacts + Directory("device") + Directory(rid));
        var root = MakeAbsolute(artifacts + Directory("device") + Directory($"deb-root-{arch}"));
        CleanDirectory(root);
        string P(string relative) => System.IO.Path.Combine(root.FullPath, relative);
        void Mode(string path, string octal) => System.IO.File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(octal, 8));

        CopyDirectory(publish, Directory(P("opt/continual-learning")));
        // Publish output is 0744 (rwxr--r--) for natives; make everything world-readable, executables 0755.
        foreach (var f in System.IO.Directory.EnumerateFiles(P("opt/continual-learning"), "*", SearchOption.AllDirectories))
            Mode(f, f.EndsWith("/cl-device") || f.EndsWith(".so") ? "755" : "644");

        EnsureDirectoryExists(P("usr/bin"));
        System.IO.File.CreateSymbolicLink(P("usr/bin/cl-device"), "/opt/continual-learning/cl-device");

        EnsureDirectoryExists(P("etc/continual-learning"));
        CopyFile(templates.CombineWithFilePath("device.json"), P("etc/continual-learning/device.json"));
        var keySource = string.IsNullOrEmpty(fleetPublicKey) ? templates.CombineWithFilePath("fleet-public.pem.placeholder") : MakeAbsolute(File(fleetPublicKey));
        if (!string.IsNullOrEmpty(fleetPublicKey) && !System.IO.File.ReadAllText(keySource.FullPath).Contains("BEGIN PUBLIC KEY"))
            throw new ArgumentException($"--fleet-public-key={fleetPublicKey} is not a PEM public key (no 'BEGIN PUBLIC KEY' line); export it with the fleet's signing tool.");
        CopyFile(keySource, P("etc/continual-learning/fleet-public.pem"));

        EnsureDirectoryExists(P("lib/systemd/system"));
        CopyFile(templates.CombineWithFilePath("cl-device.service"), P("lib/systemd/system/cl-device.service"));
        EnsureDirectoryExists(P("lib/udev/rules.d"));
        CopyFile(templates.CombineWithFilePath("60-continual-learning-gpio.rules"), P("lib/udev/rules.d/60-continual-learning-gpio.rules"));

        EnsureDirectoryExists(P("DEBIAN"));
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
        {
            CopyFile(templates.CombineWithFilePath(script), P($"DEBIAN/{script}"));
            Mode(P($"DEBIAN/{script}"), "755");
        }
        System.IO.File.WriteAllText(P("DEBIAN/conffiles"), "/etc/continual-learning/device.json\n/etc/continual-learning/fleet-public.pem\n");
        var installedKb = System.IO.Directory.EnumerateFiles(root.FullPath, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/DEBIAN/")).Sum(f => new System.IO.FileInfo(f).Length) / 1024;
        // Self-contained .NET: only glibc, libstdc++ (ONNX Runtime), zlib and OpenSSL (TLS) from the system; no ICU
        // (InvariantGlobalization). adduser for postinst.
        System.IO.File.WriteAllText(P("DEBIAN/control"), string.Join("\n", new[]
        {
            "Package: continual-learning",
            $"Version: {debVersion}",
            $"Architecture: {arch}",
            "Maintainer: ContinualLearning maintainers <maintainers@continual-learning.invalid>",
            $"Installed-Size: {installedKb}",
            "Depends: libc6 (>= 2.31), libstdc++6 (>= 10), libgcc-s1, zlib1g, libssl3 | libssl1.1, adduser",
            "Section: misc",
            "Priority: optional",
            "Description: on-device continual learning runtime (cl-device service)",
            " The cl-device daemon serves a model, fine-tunes its head locally with replay,",
            " keeps raw samples only in a tmpfs SQLite store and sends compressed weight",
            " deltas to the fleet aggregator over MQTT.",
        }) + "\n");

        var deb = MakeAbsolute(artifacts + Directory("device") + File($"continual-learning_{debVersion}_{arch}.deb"));
        var exit = StartProcess("dpkg-deb", new ProcessSettings
        {
            Arguments = new ProcessArgumentBuilder().Append("--build").Append("--root-owner-group").Append("-Zxz").AppendQuoted(root.FullPath).AppendQuoted(deb.FullPath),
        });
        if (exit != 0) throw new InvalidOperationException($"dpkg-deb --build failed with exit code {exit} for {root}.");
        Information($"Built {deb} ({new System.IO.FileInfo(deb.FullPath).Length / 1048576.0:0.0} MB, installed {installedKb / 1024.0:0.0} MB)");
    }
});

RunTarget(target);
