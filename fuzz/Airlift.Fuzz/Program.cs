using Airlift.Fuzz;

// The afl++ harness. Usage:
//   Airlift.Fuzz list                         targets: name, instrumented assemblies, summary (tab-separated)
//   Airlift.Fuzz run TARGET                   under afl-fuzz: SharpFuzz persistent mode, one input per iteration on stdin
//   Airlift.Fuzz replay TARGET FILE...        runs inputs once, uninstrumented; prints the exception of a crash
//   Airlift.Fuzz make-corpus OUT REPO [DIR]   writes the seed corpora from real handshakes and captures
const int MaxInput = 1 << 20;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Airlift.Fuzz list | run TARGET | replay TARGET FILE... | make-corpus OUT_DIR REPO_ROOT [VECTOR_DIR...]");
    return 2;
}

switch (args[0])
{
    case "list":
        foreach (var t in FuzzTargets.All)
        {
            Console.WriteLine($"{t.Name}\t{string.Join(' ', t.Instrument)}\t{t.Summary}");
        }

        return 0;
    case "run" when args.Length == 2 && FuzzTargets.Find(args[1]) is { } target:
        SharpFuzz.Fuzzer.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var input = memory.GetBuffer().AsSpan(0, (int)Math.Min(memory.Length, MaxInput));
            target.Run(input);
        });
        return 0;
    case "replay" when args.Length >= 3 && FuzzTargets.Find(args[1]) is { } target:
        var crashes = 0;
        foreach (var file in args.Skip(2))
        {
            try
            {
                target.Run(File.ReadAllBytes(file));
                Console.WriteLine($"ok     {file}");
            }
#pragma warning disable CA1031 // Replay reports whatever escaped: that is the crash.
            catch (Exception e)
#pragma warning restore CA1031
            {
                crashes++;
                Console.WriteLine($"CRASH  {file}");
                Console.WriteLine(e.ToString());
            }
        }

        return crashes == 0 ? 0 : 1;
    case "make-corpus" when args.Length >= 3:
        var count = CorpusMaker.Write(args[1], args[2], args.Skip(3));
        Console.WriteLine($"wrote {count} corpus files under {args[1]}");
        return 0;
    default:
        Console.Error.WriteLine($"unknown command or target: {string.Join(' ', args)}; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
        return 2;
}
