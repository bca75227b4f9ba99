using Airlift.Bench.Dtls;
using Airlift.Bench.Net;
using Airlift.Bench.Reliability;
using Airlift.Bench.Srtp;
using Airlift.Bench.WebRtc;
using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "reliability")
{
    return ReliabilityBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "memory")
{
    return MemoryPerEndpoint.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "cpu")
{
    return CpuTimeBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "srtp")
{
    return SrtpCpuBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "serve-session")
{
    return ServeSessionBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "cores")
{
    return CoresBenchmark.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
