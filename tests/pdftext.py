"""The text of a PDF as a reader's copy-paste would give it, from the PDF's own ToUnicode
maps, with the standard library only (no PDF parser is installed here, and the report's
tests should not bring one in for this).

Enough for what ReportLab writes: numbered objects, Flate-compressed streams, subset
TrueType fonts each with a ToUnicode CMap (bfchar and bfrange), and text shown with Tj / TJ
on literal strings. Each text object (BT ... ET) becomes one line.
"""

from __future__ import annotations

import base64
import re
import zlib

_OBJ = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_HEX = re.compile(rb"<([0-9A-Fa-f]+)>")


def _stream(body: bytes) -> bytes | None:
    m = re.search(rb"stream\r?\n", body)
    length = re.search(rb"/Length (\d+)", body)
    if m is None or length is None:
        return None
    data, head = body[m.end() : m.end() + int(length.group(1))], body[: m.start()]
    if b"/ASCII85Decode" in head:  # ReportLab's page streams: ASCII85 over Flate
        data = base64.a85decode(re.sub(rb"\s", b"", data).removesuffix(b"~>"))
    return zlib.decompress(data) if b"/FlateDecode" in head else data


def _cmap(data: bytes) -> dict[int, str]:
    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        pairs = _HEX.findall(block)
        for src, dst in zip(pairs[::2], pairs[1::2], strict=True):
            out[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for line in block.strip().splitlines():
            nums = _HEX.findall(line)
            if len(nums) < 3:
                continue
            lo, hi = int(nums[0], 16), int(nums[1], 16)
            if b"[" in line:  # <lo> <hi> [<dst> <dst> ...]
                for code, dst in zip(range(lo, hi + 1), nums[2:], strict=False):
                    out[code] = bytes.fromhex(dst.decode()).decode("utf-16-be")
            else:
                first = int(nums[2], 16)
                for code in range(lo, hi + 1):
                    out[code] = chr(first + code - lo)
    return out


def _literal(s: bytes, i: int) -> tuple[bytes, int]:
    """The literal string starting after '(' at s[i]; (its bytes, the index after ')')."""
    out = bytearray()
    depth = 1
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while i < len(s):
        c = s[i]
        if c == 0x5C:  # backslash
            i += 1
            c = s[i]
            if 0x30 <= c <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", s[i : i + 3]).group(0)  # type: ignore[union-attr]
                out.append(int(digits, 8) & 0xFF)
                i += len(digits)
                continue
            out.append(escapes.get(c, c))
        elif c == 0x28:
            depth += 1
            out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), i + 1
            out.append(c)
        else:
            out.append(c)
        i += 1
    raise ValueError("unterminated string")


def pdf_text(pdf: bytes) -> str:
    objects = {int(n): body for n, body in _OBJ.findall(pdf)}
    fonts: dict[bytes, dict[int, str] | None] = {}
    for body in objects.values():
        if b"/Type /Font" not in body:
            continue
        name = re.search(rb"/Name /(\S+)", body)
        ref = re.search(rb"/ToUnicode (\d+) 0 R", body)
        if name is None:
            continue
        data = _stream(objects[int(ref.group(1))]) if ref else None
        fonts[name.group(1)] = _cmap(data) if data else None
    lines: list[str] = []
    for body in objects.values():
        content = _stream(body)
        if content is None or b"BT" not in content or b"/Type /Font" in body:
            continue
        cmap: dict[int, str] | None = None
        line: list[str] = []
        i = 0
        tokens = re.compile(rb"/([^\s/\[\]()<>]+)\s+[\d.]+\s+Tf|\(|\bET\b")
        while (m := tokens.search(content, i)) is not None:
            if m.group(0) == b"(":
                raw, i = _literal(content, m.end())
                line.append(
                    "".join(cmap.get(b, "?") for b in raw) if cmap else raw.decode("latin-1")
                )
                continue
            if m.group(0) == b"ET":
                lines.append("".join(line))
                line = []
            else:
                cmap = fonts.get(m.group(1))
            i = m.end()
    return "\n".join(lines)


def page_count(pdf: bytes) -> int:
    """Page objects in the file (ReportLab writes no object streams, so each is visible)."""
    return len(re.findall(rb"/Type /Page\b", pdf))
