using Airlift.Dtls.Records;

namespace Airlift.Tests.Dtls;

public class ReplayWindowTests
{
    [Fact]
    public void Duplicates_are_rejected_and_reordering_within_the_window_is_accepted_RFC6347_4_1_2_6()
    {
        var w = new ReplayWindow();
        Assert.True(w.IsFresh(10));
        w.Mark(10);
        Assert.False(w.IsFresh(10));
        Assert.True(w.IsFresh(5));
        w.Mark(5);
        Assert.False(w.IsFresh(5));
        Assert.True(w.IsFresh(11));
    }

    [Fact]
    public void Records_older_than_the_window_are_rejected()
    {
        var w = new ReplayWindow();
        w.Mark(1000);
        Assert.True(w.IsFresh(1000 - ReplayWindow.Size + 1));
        Assert.False(w.IsFresh(1000 - ReplayWindow.Size));
    }

    [Fact]
    public void Window_slides_across_word_boundaries_without_forgetting_recent_records()
    {
        var w = new ReplayWindow();
        for (ulong s = 0; s < 300; s += 3)
        {
            w.Mark(s);
        }

        for (ulong s = 300 - ReplayWindow.Size + 3; s < 300; s++)
        {
            Assert.Equal(s % 3 != 0, w.IsFresh(s));
        }

        w.Mark(100_000);
        Assert.False(w.IsFresh(297));
        Assert.True(w.IsFresh(99_999));
    }
}
