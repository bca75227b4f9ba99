using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Airlift.Cli.Lab;

/// <summary>The lab's terminal output: the scenario table with one verdict line per scenario, and progress.</summary>
internal static class LabConsole
{
    /// <summary>Widest console output of the lab: the tables fit a 120-column terminal (what does not fit is in lab.json and lab.html).</summary>
    public const int MaxWidth = 120;

    /// <summary>A console on stdout; when stdout is redirected, plain text (no colours, no cursor moves) laid out for <see cref="MaxWidth"/> columns.</summary>
    public static IAnsiConsole Create(TextWriter output, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(output),
        });
        if (redirected)
        {
            console.Profile.Width = MaxWidth;
        }

        return console;
    }

    /// <summary>Prints the scenario table, the verdict lines and the sweep table.</summary>
    public static void Print(IAnsiConsole console, LabReport report)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        var rows = ScenarioRow.Build(report);
        if (rows.Count > 0)
        {
            // Seven columns: the path and the effective datagram limit go into the scenario cell and the reports.
            var table = new Table().Border(TableBorder.Rounded).Title("[bold]Airlift lab: field failures F1-F4 in virtual time[/]");
            table.AddColumn(new TableColumn("scenario"));
            table.AddColumn(new TableColumn("DTLS").NoWrap());
            table.AddColumn(new TableColumn("result"));
            table.AddColumn(new TableColumn("time to connect").RightAligned());
            table.AddColumn(new TableColumn("datagrams").RightAligned().NoWrap());
            table.AddColumn(new TableColumn("largest").RightAligned().NoWrap());
            table.AddColumn(new TableColumn("retransmits").RightAligned().NoWrap());
            foreach (var r in rows)
            {
                var result = r.Verdict.Passed ? $"[green]{Markup.Escape(r.Result)}[/]" : $"[red]{Markup.Escape(r.Result)}[/]";
                table.AddRow(
                    new Markup($"[bold]{Markup.Escape(r.Verdict.Scenario)}[/]\n{Markup.Escape(r.Verdict.Title)}\n[grey]path: {Markup.Escape(r.Verdict.Path)}[/]"),
                    new Text(r.Dtls),
                    new Markup(result + (r.Verdict.Expectation == "connects" ? string.Empty : $"\n[grey](expected: {Markup.Escape(r.Verdict.Expectation)})[/]")),
                    new Text(r.Time),
                    new Text(ReportFormat.Mean(r.MeanDatagrams)),
                    new Text(ReportFormat.Bytes(r.Largest)),
                    new Text(ReportFormat.Mean(r.MeanRetransmissions)));
            }

            console.Write(table);
            console.WriteLine();
            foreach (var r in rows)
            {
                var mark = r.Verdict.Passed ? "[green]PASS[/]" : "[red]FAIL[/]";
                console.MarkupLine($"{mark} {Markup.Escape(r.Verdict.Label)}: {Markup.Escape(r.Verdict.Reason)}");
            }

            console.WriteLine();
        }

        var curves = ReportCharts.Curves(report);
        if (curves.Count > 0)
        {
            // Pairing labels never wrap; p99 and the largest datagram per point are in lab.json and lab.html.
            var sweep = new Table().Border(TableBorder.Rounded).Title("[bold]Loss sweep (both directions)[/]");
            sweep.AddColumn(new TableColumn("pairing").NoWrap());
            foreach (var name in new[] { "loss", "connected", "p50", "p90", "datagrams", "retransmits" })
            {
                sweep.AddColumn(new TableColumn(name).RightAligned().NoWrap());
            }

            foreach (var c in curves)
            {
                foreach (var p in c.Points)
                {
                    sweep.AddRow(
                        c.Label,
                        ReportFormat.Loss(p.LossPercent),
                        $"{p.Successes}/{p.Trials} ({ReportFormat.Percent(p.SuccessRate)})",
                        ReportFormat.Ms(p.P50Ms),
                        ReportFormat.Ms(p.P90Ms),
                        ReportFormat.Mean(p.MeanDatagrams),
                        ReportFormat.Mean(p.MeanRetransmissions));
                }
            }

            sweep.Caption("[grey]datagrams, retransmits: means per run; p50/p90: by when that share of all runs had connected[/]");
            console.Write(sweep);
            console.WriteLine();
        }

        foreach (var sentence in ReportSummary.Sentences(report))
        {
            console.MarkupLine($"[grey]-[/] {Markup.Escape(sentence)}");
        }

        var passed = report.Verdicts.Count(v => v.Passed);
        if (report.Verdicts.Count > 0)
        {
            console.MarkupLine(report.AllPassed
                ? $"[green bold]PASS[/]: {passed}/{report.Verdicts.Count} scenarios passed ({report.Trials.Count} runs{Took(report)})"
                : $"[red bold]FAIL[/]: {passed}/{report.Verdicts.Count} scenarios passed ({report.Trials.Count} runs{Took(report)})");
        }
        else
        {
            console.MarkupLine($"{report.Trials.Count(t => t.Connected)}/{report.Trials.Count} runs connected{Took(report)}");
        }
    }

    /// <summary>Longest gap between two plain progress lines.</summary>
    public static readonly TimeSpan PlainProgressInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Runs <paramref name="work"/> with progress: a Spectre progress bar with an ETA on a terminal, otherwise a plain line on
    /// <paramref name="plain"/> at every tenth of the work and at least every <see cref="PlainProgressInterval"/>.
    /// </summary>
    public static T WithProgress<T>(IAnsiConsole console, bool live, TextWriter plain, string label, Func<IProgress<LabProgress>, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (live)
        {
            T result = default!;
            console.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(label), autoStart: true, maxValue: 1);
                    result = work(new CallbackProgress<LabProgress>(p =>
                    {
                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = p.Done;
                    }));
                });
            return result;
        }

        var clock = Stopwatch.StartNew();
        var lastTenth = -1;
        var lastLine = TimeSpan.Zero;
        var gate = new Lock();
        return work(new CallbackProgress<LabProgress>(p =>
        {
            if (p.Total == 0)
            {
                return;
            }

            var tenth = p.Done * 10 / p.Total;
            lock (gate)
            {
                // A line at every tenth of the work, and at least once a minute on long runs (a real-peer run takes an hour).
                if (tenth <= lastTenth && clock.Elapsed - lastLine < PlainProgressInterval)
                {
                    return;
                }

                lastTenth = Math.Max(lastTenth, tenth);
                lastLine = clock.Elapsed;
            }

            var eta = p.Done == 0 ? string.Empty : string.Create(CultureInfo.InvariantCulture, $", ETA {clock.Elapsed.TotalSeconds * (p.Total - p.Done) / p.Done:0} s");
            plain.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {p.Done}/{p.Total} runs ({100 * p.Done / p.Total}%){eta}"));
        }));
    }

    /// <summary>The asynchronous form of <see cref="WithProgress{T}"/> (for the real-peer runner).</summary>
    public static async Task<T> WithProgressAsync<T>(IAnsiConsole console, bool live, TextWriter plain, string label, Func<IProgress<LabProgress>, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(work);
        if (!live)
        {
            return await WithProgress(console, false, plain, label, work).ConfigureAwait(false);
        }

        return await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), autoStart: true, maxValue: 1);
                return await work(new CallbackProgress<LabProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                })).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    private static string Took(LabReport report) => report.Elapsed is { } e ? $", {ReportFormat.Ms(e.TotalMilliseconds)}" : string.Empty;

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to the thread pool and reorder reports).</summary>
    private sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
