"""Small PDF files written by hand for the loader and CLI tests (no PDF library involved).

``make_pdf`` lays out each page's lines top to bottom in Helvetica, as a word processor would
(one text line per visual line, wrapped paragraphs included), with an optional /Info title and
author; ``image_only`` pages hold a picture and no text, like a scan.
"""

from __future__ import annotations

from pathlib import Path


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(
    path: Path,
    pages: list[list[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    image_only: bool = False,
) -> Path:
    """Write a PDF of ``pages`` (each a list of text lines) to ``path`` and return ``path``."""
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    image = add(
        b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length 4 >>\nstream\n\x00\x80\x80\xff\nendstream"
    )
    kids = []
    for lines in pages:
        if image_only:
            content = b"q 612 0 0 792 0 0 cm /Im1 Do Q"
        else:
            ops = ["BT /F1 11 Tf 14 TL 72 740 Td"]
            for line in lines:
                ops.append(f"({_escape(line)}) Tj T*")
            ops.append("ET")
            content = "\n".join(ops).encode("cp1252")
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >> >>"
            % (pages_obj, stream, font, image)
        ))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    info_fields = []
    if title is not None:
        info_fields.append(f"/Title ({_escape(title)})")
    if author is not None:
        info_fields.append(f"/Author ({_escape(author)})")
    info = add(f"<< {' '.join(info_fields)} >>".encode("cp1252")) if info_fields else None

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path
