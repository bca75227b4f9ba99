using System.Runtime.CompilerServices;

// The lab tests call the lab core (LabRunner, the report writers, the ladder) in process. This belongs in
// Airlift.Cli.csproj (<InternalsVisibleTo Include="Airlift.Tests" />) next to the other projects'; it is here only because
// the lab branch does not own the project file.
[assembly: InternalsVisibleTo("Airlift.Tests")]
