using System.Globalization;
using System.Net;
using System.Text;

namespace Airlift.Cli.Lab;

/// <summary>A minimal SVG element writer: numbers in invariant culture, text and attributes escaped.</summary>
internal sealed class SvgWriter
{
    private readonly StringBuilder _sb = new();

    /// <summary>Starts an &lt;svg&gt; of the given size with a title (for screen readers).</summary>
    public SvgWriter(int width, int height, string title)
    {
        _sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
        _sb.Append("<title>").Append(Escape(title)).Append("</title>");
    }

    /// <summary>A straight line.</summary>
    public SvgWriter Line(double x1, double y1, double x2, double y2, string stroke, double width = 1, string? dash = null) =>
        Raw($"<line x1=\"{N(x1)}\" y1=\"{N(y1)}\" x2=\"{N(x2)}\" y2=\"{N(y2)}\" stroke=\"{Escape(stroke)}\" stroke-width=\"{N(width)}\"{Dash(dash)}/>");

    /// <summary>An open polyline through the points; <paramref name="series"/> names the data series it draws (data-series, for checks).</summary>
    public SvgWriter Polyline(IEnumerable<(double X, double Y)> points, string stroke, double width = 2, string? dash = null, string? series = null) =>
        Raw($"<polyline fill=\"none\" stroke=\"{Escape(stroke)}\" stroke-width=\"{N(width)}\"{Dash(dash)}{(series is null ? string.Empty : $" data-series=\"{Escape(series)}\"")} points=\"{string.Join(' ', points.Select(p => N(p.X) + "," + N(p.Y)))}\"/>");

    /// <summary>Opens a group (closed by <see cref="EndGroup"/>) with a CSS class and a tooltip title.</summary>
    public SvgWriter BeginGroup(string cssClass, string? tooltip = null) =>
        Raw($"<g class=\"{Escape(cssClass)}\">{(tooltip is null ? string.Empty : $"<title>{Escape(tooltip)}</title>")}");

    /// <summary>Closes the group <see cref="BeginGroup"/> opened.</summary>
    public SvgWriter EndGroup() => Raw("</g>");

    /// <summary>A filled circle (a data point), with a tooltip.</summary>
    public SvgWriter Circle(double cx, double cy, double r, string fill, string? tooltip = null) =>
        Raw(tooltip is null
            ? $"<circle cx=\"{N(cx)}\" cy=\"{N(cy)}\" r=\"{N(r)}\" fill=\"{Escape(fill)}\"/>"
            : $"<circle cx=\"{N(cx)}\" cy=\"{N(cy)}\" r=\"{N(r)}\" fill=\"{Escape(fill)}\"><title>{Escape(tooltip)}</title></circle>");

    /// <summary>A rectangle.</summary>
    public SvgWriter Rect(double x, double y, double w, double h, string fill, string? stroke = null) =>
        Raw($"<rect x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(w)}\" height=\"{N(h)}\" fill=\"{Escape(fill)}\"{(stroke is null ? string.Empty : $" stroke=\"{Escape(stroke)}\"")}/>");

    /// <summary>Text; <paramref name="anchor"/> is start, middle or end; <paramref name="rotate"/> turns it about its anchor point.</summary>
    public SvgWriter Text(double x, double y, string text, string anchor = "start", int size = 12, double rotate = 0, string weight = "normal") =>
        Raw($"<text x=\"{N(x)}\" y=\"{N(y)}\" font-size=\"{size}\" text-anchor=\"{anchor}\" font-weight=\"{weight}\"{(rotate != 0 ? $" transform=\"rotate({N(rotate)} {N(x)} {N(y)})\"" : string.Empty)}>{Escape(text)}</text>");

    /// <summary>The finished document.</summary>
    public override string ToString() => _sb + "</svg>";

    /// <summary>XML-escapes text for content and attributes.</summary>
    public static string Escape(string text) => WebUtility.HtmlEncode(text);

    private SvgWriter Raw(string element)
    {
        _sb.Append(element);
        return this;
    }

    private static string Dash(string? dash) => dash is null ? string.Empty : $" stroke-dasharray=\"{Escape(dash)}\"";

    private static string N(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);
}
