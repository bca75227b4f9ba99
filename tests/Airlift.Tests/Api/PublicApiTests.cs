using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Airlift.Tests.Docs;

namespace Airlift.Tests.Api;

/// <summary>
/// The public surface of Airlift.Core (every public type and its public and protected members, read by reflection) is
/// checked in as tests/fixtures/api/Airlift.Core.txt, so an API change shows up in review as a diff of that file. Run the
/// test with AIRLIFT_UPDATE_DOCS=1 to rewrite the file after an intended change.
/// </summary>
public sealed class PublicApiTests
{
    private const string FixturePath = "tests/fixtures/api/Airlift.Core.txt";

    private const string UpdateCommand = "AIRLIFT_UPDATE_DOCS=1 dotnet test tests/Airlift.Tests -c Release --no-build --filter \"FullyQualifiedName~PublicApiTests\"";

    [Fact]
    public void The_public_API_of_Airlift_Core_matches_the_checked_in_listing()
    {
        var generated = Listing(typeof(Airlift.Dtls.DtlsOptions).Assembly);
        var path = Path.Combine(ReadmeSamplesTests.RepoRoot(), FixturePath);
        var current = File.Exists(path) ? File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal) : null;
        if (current == generated)
        {
            return;
        }

        if (Environment.GetEnvironmentVariable("AIRLIFT_UPDATE_DOCS") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, generated);
            return;
        }

        Assert.Fail(Difference(current, generated));
    }

    [Fact]
    public void The_listing_names_kinds_members_and_obsolete_marks()
    {
        var listing = Listing(typeof(Airlift.Dtls.DtlsOptions).Assembly).Split('\n');

        Assert.Contains("public sealed record Airlift.Dtls.DtlsOptions : System.IEquatable<Airlift.Dtls.DtlsOptions>", listing);
        Assert.Contains("  [Obsolete] Microsoft.Extensions.Logging.ILogger Logger { get; init; }", listing);
        Assert.Contains("  Microsoft.Extensions.Logging.ILoggerFactory LoggerFactory { get; init; }", listing);
        Assert.Contains("public enum Airlift.Dtls.DtlsRole : int", listing);
        Assert.Contains("  Client = 0", listing);
        Assert.DoesNotContain(listing, l => l.Contains("Airlift.Dtls.V12.", StringComparison.Ordinal) && !l.StartsWith("  ", StringComparison.Ordinal));
    }

    /// <summary>The message a stale listing fails with: what was added and removed, and the one command that accepts it.</summary>
    private static string Difference(string? current, string generated)
    {
        if (current is null)
        {
            return $"{FixturePath} does not exist. Create it with:\n  {UpdateCommand}\nand commit it.";
        }

        var before = current.Split('\n').ToHashSet(StringComparer.Ordinal);
        var after = generated.Split('\n').ToHashSet(StringComparer.Ordinal);
        var added = generated.Split('\n').Where(l => !before.Contains(l)).ToList();
        var removed = current.Split('\n').Where(l => !after.Contains(l)).ToList();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"The public API of Airlift.Core differs from {FixturePath} ({added.Count} lines added, {removed.Count} removed).\n");
        text.Append(CultureInfo.InvariantCulture, $"If the change is intended, rewrite the file and commit it with the change (its diff is the API change to review):\n  {UpdateCommand}\n");
        foreach (var line in added.Take(30))
        {
            text.Append("+ ").Append(line).Append('\n');
        }

        foreach (var line in removed.Take(30))
        {
            text.Append("- ").Append(line).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>One line per public type (sorted by name), then its members indented, sorted; LF line ends.</summary>
    internal static string Listing(Assembly assembly)
    {
        var text = new StringBuilder();
        text.Append("# Public API of ").Append(assembly.GetName().Name).Append(" (PublicApiTests; AIRLIFT_UPDATE_DOCS=1 rewrites it)\n");
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            text.Append(Obsolete(type)).Append("public ").Append(Kind(type)).Append(' ').Append(Name(type)).Append(Bases(type)).Append('\n');
            foreach (var member in Members(type).Order(StringComparer.Ordinal))
            {
                text.Append("  ").Append(member).Append('\n');
            }
        }

        return text.ToString();
    }

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<string> Members(Type type)
    {
        if (type.IsEnum)
        {
            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                yield return $"{Obsolete(field)}{field.Name} = {Convert.ToString(field.GetRawConstantValue(), CultureInfo.InvariantCulture)}";
            }

            yield break;
        }

        if (typeof(Delegate).IsAssignableFrom(type))
        {
            yield break;
        }

        foreach (var member in type.GetMembers(Declared))
        {
            if (!Visible(member) || member.Name.StartsWith('<') || member is Type)
            {
                continue;
            }

            switch (member)
            {
                case ConstructorInfo c:
                    yield return $"{Obsolete(c)}{Access(c)}{(c.IsStatic ? "static " : "")}ctor({Parameters(c.GetParameters())})";
                    break;
                case MethodInfo m when !m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal):
                    var generic = m.IsGenericMethodDefinition ? $"<{string.Join(", ", m.GetGenericArguments().Select(a => a.Name))}>" : "";
                    yield return $"{Obsolete(m)}{Access(m)}{Modifiers(m)}{Name(m.ReturnType)} {m.Name}{generic}({Parameters(m.GetParameters())})";
                    break;
                case PropertyInfo p:
                    var indexer = p.GetIndexParameters() is { Length: > 0 } ix ? $"[{Parameters(ix)}]" : "";
                    var accessor = p.GetMethod is { } g && Visible(g) ? g : p.SetMethod!;
                    var accessors = (p.GetMethod is { } get && Visible(get) ? "get; " : "") + (p.SetMethod is { } set && Visible(set) ? (IsInit(set) ? "init; " : "set; ") : "");
                    yield return $"{Obsolete(p)}{Access(accessor)}{Modifiers(accessor)}{Name(p.PropertyType)} {(indexer.Length > 0 ? "this" : p.Name)}{indexer} {{ {accessors}}}";
                    break;
                case FieldInfo f:
                    var constant = f.IsLiteral ? $"const {Name(f.FieldType)} {f.Name} = {Literal(f.GetRawConstantValue())}" : $"{(f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{Name(f.FieldType)} {f.Name}";
                    yield return $"{Obsolete(f)}{Access(f)}{constant}";
                    break;
                case EventInfo e:
                    yield return $"{Obsolete(e)}event {Name(e.EventHandlerType!)} {e.Name}";
                    break;
            }
        }
    }

    /// <summary>Public members, and protected ones a subclass outside the assembly could reach.</summary>
    private static bool Visible(MemberInfo member) => member switch
    {
        MethodBase m => m.IsPublic || ((m.IsFamily || m.IsFamilyOrAssembly) && !m.DeclaringType!.IsSealed),
        FieldInfo f => f.IsPublic || ((f.IsFamily || f.IsFamilyOrAssembly) && !f.DeclaringType!.IsSealed),
        PropertyInfo p => (p.GetMethod is { } g && Visible(g)) || (p.SetMethod is { } s && Visible(s)),
        EventInfo e => e.AddMethod is { } a && Visible(a),
        _ => false,
    };

    private static string Access(MethodBase m) => m.IsPublic ? "" : "protected ";

    private static string Access(FieldInfo f) => f.IsPublic ? "" : "protected ";

    private static string Modifiers(MethodInfo m) =>
        m.IsStatic ? "static "
        : m.IsAbstract && !m.DeclaringType!.IsInterface ? "abstract "
        : m.IsVirtual && !m.IsFinal && !m.DeclaringType!.IsInterface ? (m.GetBaseDefinition() != m ? "override " : "virtual ")
        : m.GetBaseDefinition() != m ? "override "
        : "";

    private static bool IsInit(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));

    private static string Kind(Type t)
    {
        if (t.IsEnum)
        {
            return "enum";
        }

        if (t.IsInterface)
        {
            return "interface";
        }

        if (typeof(Delegate).IsAssignableFrom(t))
        {
            var invoke = t.GetMethod("Invoke")!;
            return $"delegate {Name(invoke.ReturnType)} ({Parameters(invoke.GetParameters())})";
        }

        var record = t.GetMethod("<Clone>$") is not null || (t.IsValueType && t.GetProperty("EqualityContract", BindingFlags.NonPublic | BindingFlags.Instance) is not null)
            || t.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance, [typeof(StringBuilder)]) is not null;
        if (t.IsValueType)
        {
            var isReadOnly = t.GetCustomAttributes().Any(a => a.GetType().FullName == "System.Runtime.CompilerServices.IsReadOnlyAttribute");
            var isRef = t.IsByRefLike;
            return $"{(isReadOnly ? "readonly " : "")}{(isRef ? "ref " : "")}{(record ? "record struct" : "struct")}";
        }

        var modifier = t.IsAbstract && t.IsSealed ? "static " : t.IsAbstract ? "abstract " : t.IsSealed ? "sealed " : "";
        return modifier + (record ? "record" : "class");
    }

    private static string Bases(Type t)
    {
        if (t.IsEnum)
        {
            return " : " + Name(Enum.GetUnderlyingType(t));
        }

        if (typeof(Delegate).IsAssignableFrom(t))
        {
            return "";
        }

        var bases = new List<string>();
        if (t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType))
        {
            bases.Add(Name(b));
        }

        var inherited = t.BaseType?.GetInterfaces() ?? [];
        bases.AddRange(t.GetInterfaces().Where(i => !inherited.Contains(i) && (i.IsPublic || i.IsNestedPublic)).Select(Name).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    private static string Parameters(ParameterInfo[] parameters) => string.Join(", ", parameters.Select(p =>
    {
        var type = p.ParameterType;
        var prefix = "";
        if (type.IsByRef)
        {
            prefix = p.IsOut ? "out " : p.IsIn ? "in " : "ref ";
            type = type.GetElementType()!;
        }
        else if (p.GetCustomAttribute<ParamArrayAttribute>() is not null)
        {
            prefix = "params ";
        }

        var value = p.HasDefaultValue ? " = " + Literal(p.RawDefaultValue) : "";
        return $"{prefix}{Name(type)} {p.Name}{value}";
    }));

    private static string Literal(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        char c => $"'{c}'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Name(Type t)
    {
        if (t.IsGenericParameter)
        {
            return t.Name;
        }

        if (t.IsArray)
        {
            return Name(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        }

        if (t.IsByRef || t.IsPointer)
        {
            return Name(t.GetElementType()!) + (t.IsPointer ? "*" : "&");
        }

        if (Nullable.GetUnderlyingType(t) is { } inner)
        {
            return Name(inner) + "?";
        }

        if (Aliases.TryGetValue(t, out var alias))
        {
            return alias;
        }

        var name = (t.IsNested ? Name(t.DeclaringType!) + "." : t.Namespace is { Length: > 0 } ns ? ns + "." : "") + t.Name;
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        if (tick >= 0)
        {
            name = name[..tick];
        }

        if (t.IsGenericType)
        {
            // A nested type's generic arguments include its declaring type's; show only its own.
            var all = t.GetGenericArguments();
            var own = t.IsNested ? all.Skip(t.DeclaringType!.GetGenericArguments().Length).ToArray() : all;
            if (own.Length > 0)
            {
                name += "<" + string.Join(", ", own.Select(Name)) + ">";
            }
        }

        return name;
    }

    private static readonly Dictionary<Type, string> Aliases = new()
    {
        [typeof(void)] = "void",
        [typeof(bool)] = "bool",
        [typeof(byte)] = "byte",
        [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short",
        [typeof(ushort)] = "ushort",
        [typeof(int)] = "int",
        [typeof(uint)] = "uint",
        [typeof(long)] = "long",
        [typeof(ulong)] = "ulong",
        [typeof(float)] = "float",
        [typeof(double)] = "double",
        [typeof(decimal)] = "decimal",
        [typeof(char)] = "char",
        [typeof(string)] = "string",
        [typeof(object)] = "object",
        [typeof(nint)] = "nint",
        [typeof(nuint)] = "nuint",
    };

    private static string Obsolete(MemberInfo member) => member.GetCustomAttribute<ObsoleteAttribute>() is null ? "" : "[Obsolete] ";
}
