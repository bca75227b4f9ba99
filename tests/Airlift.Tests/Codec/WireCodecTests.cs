using Airlift.Codec;

namespace Airlift.Tests.Codec;

public class WireCodecTests
{
    [Fact]
    public void Writer_patches_length_prefixes_and_reader_reads_them_back()
    {
        var buffer = new byte[32];
        var w = new WireWriter(buffer);
        var outer = w.BeginVector16();
        w.WriteUInt8(7);
        w.WriteVector8([1, 2, 3]);
        w.WriteUInt24(0x010203);
        w.WriteUInt48(0x0000_0102_0304_0506);
        w.EndVector(outer);
        Assert.False(w.Overflowed);
        Assert.Equal(new byte[] { 0x00, 0x0E, 7, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6 }, w.Written.ToArray());

        var r = new WireReader(w.Written);
        Assert.True(r.TryReadVector16(out var body));
        Assert.True(r.IsEmpty);
        var inner = new WireReader(body);
        Assert.True(inner.TryReadUInt8(out var seven));
        Assert.Equal(7, seven);
        Assert.True(inner.TryReadVector8(out var v));
        Assert.Equal(new byte[] { 1, 2, 3 }, v.ToArray());
        Assert.True(inner.TryReadUInt24(out var u24));
        Assert.Equal(0x010203, u24);
        Assert.True(inner.TryReadUInt48(out var u48));
        Assert.Equal(0x0000_0102_0304_0506UL, u48);
        Assert.True(inner.IsEmpty);
    }

    [Fact]
    public void Reader_consumes_nothing_when_a_vector_is_truncated()
    {
        var r = new WireReader(new byte[] { 0x00, 0x05, 1, 2 });
        Assert.False(r.TryReadVector16(out _));
        Assert.Equal(0, r.Position);
    }

    [Fact]
    public void Writer_reports_overflow_instead_of_throwing()
    {
        var w = new WireWriter(new byte[3]);
        w.WriteUInt16(1);
        w.WriteUInt16(2);
        Assert.True(w.Overflowed);
        Assert.Equal(2, w.Position);
    }
}
