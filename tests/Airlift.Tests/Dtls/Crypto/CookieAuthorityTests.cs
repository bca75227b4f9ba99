using Airlift.Dtls.Crypto;

namespace Airlift.Tests.Dtls.Crypto;

public class CookieAuthorityTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(60);
    private static readonly byte[] Alice = [192, 0, 2, 1, 0x13, 0x88];
    private static readonly byte[] Bob = [192, 0, 2, 2, 0x13, 0x88];
    private static readonly byte[] Hello = [0xFE, 0xFD, 1, 2, 3, 4, 5, 6, 7, 8];

    private static byte[] Cookie(CookieAuthority authority, TimeSpan now, byte[] identity, byte[] fields)
    {
        var cookie = new byte[CookieAuthority.CookieLength];
        authority.Compute(now, identity, fields, cookie);
        return cookie;
    }

    [Fact]
    public void Cookie_verifies_for_the_same_client_and_hello_rfc6347_section4_2_1()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(1), Interval);
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, Hello);
        Assert.True(authority.Verify(TimeSpan.FromSeconds(1), Alice, Hello, cookie));
    }

    [Fact]
    public void Cookie_for_another_identity_or_other_hello_fields_is_rejected()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(2), Interval);
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, Hello);
        Assert.False(authority.Verify(TimeSpan.Zero, Bob, Hello, cookie));
        Assert.False(authority.Verify(TimeSpan.Zero, Alice, [.. Hello, 9], cookie));

        // Bytes moved from the identity to the fields must not give the same cookie.
        Assert.False(authority.Verify(TimeSpan.Zero, Alice[..5], [Alice[5], .. Hello], cookie));
    }

    [Fact]
    public void Tampered_truncated_or_empty_cookies_are_rejected()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(3), Interval);
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, Hello);
        var tampered = (byte[])cookie.Clone();
        tampered[0] ^= 1;
        Assert.False(authority.Verify(TimeSpan.Zero, Alice, Hello, tampered));
        Assert.False(authority.Verify(TimeSpan.Zero, Alice, Hello, cookie.AsSpan(0, 31)));
        Assert.False(authority.Verify(TimeSpan.Zero, Alice, Hello, []));
        Assert.True(authority.Verify(TimeSpan.Zero, Alice, Hello, cookie));
    }

    [Fact]
    public void Cookie_from_the_previous_secret_is_still_accepted_after_one_rotation()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(4), Interval);
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, Hello);
        var afterOne = Interval + TimeSpan.FromSeconds(1);
        Assert.True(authority.Verify(afterOne, Alice, Hello, cookie));

        // The secret did rotate: a fresh cookie differs from the old one.
        Assert.NotEqual(cookie, Cookie(authority, afterOne, Alice, Hello));
    }

    [Fact]
    public void Cookie_is_rejected_two_rotations_later_when_rotations_are_observed_one_by_one()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(5), Interval);
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, Hello);
        Assert.True(authority.Verify(Interval + TimeSpan.FromSeconds(1), Alice, Hello, cookie));
        Assert.False(authority.Verify(2 * Interval + TimeSpan.FromSeconds(1), Alice, Hello, cookie));
    }

    [Fact]
    public void Cookie_is_rejected_after_a_long_idle_gap_of_several_intervals()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(6), Interval);
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, Hello);
        Assert.False(authority.Verify(5 * Interval, Alice, Hello, cookie));
    }

    [Fact]
    public void Same_seed_gives_the_same_cookies_and_another_seed_does_not()
    {
        var a = Cookie(new CookieAuthority(RandomSource.Seeded(7), Interval), TimeSpan.Zero, Alice, Hello);
        var b = Cookie(new CookieAuthority(RandomSource.Seeded(7), Interval), TimeSpan.Zero, Alice, Hello);
        var c = Cookie(new CookieAuthority(RandomSource.Seeded(8), Interval), TimeSpan.Zero, Alice, Hello);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Large_client_hello_fields_are_handled()
    {
        var authority = new CookieAuthority(RandomSource.Seeded(9), Interval);
        var fields = new byte[4000];
        fields[3999] = 1;
        var cookie = Cookie(authority, TimeSpan.Zero, Alice, fields);
        Assert.True(authority.Verify(TimeSpan.Zero, Alice, fields, cookie));
        fields[3999] = 2;
        Assert.False(authority.Verify(TimeSpan.Zero, Alice, fields, cookie));
    }
}
