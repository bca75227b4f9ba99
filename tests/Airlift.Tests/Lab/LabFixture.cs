using Airlift.Cli.Lab;

namespace Airlift.Tests.Lab;

/// <summary>
/// One in-process lab run shared by the lab tests: the default scenarios and a shortened sweep (10 trials per point,
/// default loss levels), certificates generated once. A couple of seconds of CPU.
/// </summary>
public sealed class LabFixture : IDisposable
{
    public LabFixture()
    {
        Certificates = LabCertificates.Create();
        Options = new LabOptions { Trials = 10 };
        Report = LabRunner.Run(Options, Certificates, "airlift lab --trials 10");
    }

    internal LabCertificates Certificates { get; }

    internal LabOptions Options { get; }

    internal LabReport Report { get; }

    public void Dispose() => Certificates.Dispose();
}
