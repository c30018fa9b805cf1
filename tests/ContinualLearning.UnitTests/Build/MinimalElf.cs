using System.Buffers.Binary;
using System.Text;

namespace ContinualLearning.UnitTests.Build;

/// <summary>
/// Hand-built ELF64 little-endian fixture: ELF header, a .dynstr, a .gnu.version_r with one Verneed on
/// libstdc++.so.6 and one Vernaux per version name, then the section header table
/// ([0] null, [1] .dynstr, [2] .gnu.version_r). Only what the patcher reads is filled in.
/// </summary>
internal static class MinimalElf
{
    private const int HeaderSize = 64;
    private const int VerneedOffset = HeaderSize;

    public static byte[] Build(params string[] versions)
    {
        // .dynstr: "\0libstdc++.so.6\0<v0>\0<v1>\0..."
        var strtab = new List<byte> { 0 };
        int Add(string s)
        {
            var at = strtab.Count;
            strtab.AddRange(Encoding.ASCII.GetBytes(s));
            strtab.Add(0);
            return at;
        }
        var file = Add("libstdc++.so.6");
        var names = versions.Select(Add).ToArray();

        var verneedSize = 16 + 16 * versions.Length;
        var strOffset = VerneedOffset + verneedSize;
        var shoff = Align(strOffset + strtab.Count, 8);
        var image = new byte[shoff + 3 * 64];

        // ELF header.
        image[0] = 0x7f; image[1] = (byte)'E'; image[2] = (byte)'L'; image[3] = (byte)'F';
        image[4] = 2; image[5] = 1; image[6] = 1;
        U16(image, 0x10, 3);            // ET_DYN
        U16(image, 0x12, 62);           // EM_X86_64
        U32(image, 0x14, 1);
        U64(image, 0x28, (ulong)shoff);
        U16(image, 0x34, HeaderSize);
        U16(image, 0x3A, 64);
        U16(image, 0x3C, 3);
        U16(image, 0x3E, 0);

        // Verneed + Vernaux chain.
        U16(image, VerneedOffset, 1);
        U16(image, VerneedOffset + 2, (ushort)versions.Length);
        U32(image, VerneedOffset + 4, (uint)file);
        U32(image, VerneedOffset + 8, 16);
        U32(image, VerneedOffset + 12, 0);
        for (var i = 0; i < versions.Length; i++)
        {
            var a = VerneedOffset + 16 + 16 * i;
            U32(image, a, 0x0297f862u + (uint)i);   // vna_hash: not checked by the patcher
            U16(image, a + 4, 0);
            U16(image, a + 6, (ushort)(i + 2));
            U32(image, a + 8, (uint)names[i]);
            U32(image, a + 12, i == versions.Length - 1 ? 0u : 16u);
        }
        strtab.CopyTo(image, strOffset);

        // Section headers: [1] .dynstr (SHT_STRTAB), [2] .gnu.version_r (SHT_GNU_verneed, link 1, info 1).
        Section(image, shoff + 64, type: 3, offset: strOffset, size: strtab.Count, link: 0, info: 0);
        Section(image, shoff + 128, type: 0x6ffffffe, offset: VerneedOffset, size: verneedSize, link: 1, info: 1);
        return image;
    }

    /// <summary>vna_flags of Vernaux <paramref name="index"/>.</summary>
    public static int FlagsOf(byte[] image, int index) =>
        BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(VerneedOffset + 16 + 16 * index + 4));

    public static void SetFlags(byte[] image, int index, ushort flags) =>
        U16(image, VerneedOffset + 16 + 16 * index + 4, flags);

    private static void Section(byte[] image, int at, uint type, int offset, int size, uint link, uint info)
    {
        U32(image, at + 4, type);
        U64(image, at + 24, (ulong)offset);
        U64(image, at + 32, (ulong)size);
        U32(image, at + 40, link);
        U32(image, at + 44, info);
    }

    private static int Align(int value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private static void U16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);

    private static void U32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);

    private static void U64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);
}
