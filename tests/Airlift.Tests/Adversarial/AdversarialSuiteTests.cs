using System.Text.RegularExpressions;
using Airlift.Tests.EndToEnd;

namespace Airlift.Tests.Adversarial;

/// <summary>Keeps the published table (docs/reliability.md, "Adversarial suite") true to the suite.</summary>
public partial class AdversarialSuiteTests
{
    /// <summary>Every test case of the suite: table rows (SRTP rows once per profile) and the facts beside them.</summary>
    internal static int TotalCases =>
        MessageOrderAttackTests.Count
        + HandshakeCryptoAttackTests.Count
        + FieldAttackTests.Count
        + FragmentAttackTests.Count
        + RecordLayerAttackTests.Count + 1
        + CookieAttackTests.Count
        + SrtpAttackTests.Count
        + StunAttackTests.Count
        + TransportFloodTests.Count;

    [Fact]
    public void The_documented_case_count_is_the_number_of_cases_in_the_suite()
    {
        Assert.NotNull(EndToEndSupport.RepoRoot);
        var doc = File.ReadAllText(Path.Combine(EndToEndSupport.RepoRoot, "docs", "reliability.md"));
        var section = doc[doc.IndexOf("## Adversarial suite", StringComparison.Ordinal)..];
        var total = Total().Match(section);
        Assert.True(total.Success, "the Adversarial suite table has no **Total** row");
        var rows = Row().Matches(section[..total.Index]).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(TotalCases, int.Parse(total.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(TotalCases, rows);
    }

    [GeneratedRegex(@"\| \*\*Total\*\* \| \*\*(\d+)\*\* \|")]
    private static partial Regex Total();

    [GeneratedRegex(@"^\|[^\n]*\| (\d+) \|[^\n]*\|$", RegexOptions.Multiline)]
    private static partial Regex Row();
}
