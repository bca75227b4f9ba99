using System.CommandLine;
using Airlift.Dtls;

namespace Airlift.Cli.Commands;

internal static class CertCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Certificate PEM to write.", Required = true };
        var key = new Option<string>("--key") { Description = "Private key PEM (PKCS#8) to write.", Required = true };
        var name = new Option<string>("--name") { Description = "Subject common name.", DefaultValueFactory = _ => "airlift" };
        var days = new Option<int>("--days") { Description = "Validity in days.", DefaultValueFactory = _ => 30 };
        var command = new Command("cert", "Create a compact ECDSA P-256 self-signed certificate (like a browser's) and print its sha-256 fingerprint.")
        {
            output, key, name, days,
        };
        command.SetAction(parse =>
        {
            var d = parse.GetValue(days);
            if (d is < 1 or > 3650)
            {
                throw new CliException("--days must be within 1..3650");
            }

            using var certificate = DtlsCertificate.GenerateEcdsa(parse.GetValue(name)!, TimeSpan.FromDays(d));
            try
            {
                certificate.ExportPem(parse.GetValue(output)!, parse.GetValue(key)!);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot write certificate: {ex.Message}");
            }

            Console.WriteLine(certificate.GetFingerprint().ToString());
            return 0;
        });
        return command;
    }
}
