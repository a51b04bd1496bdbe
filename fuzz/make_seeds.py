#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the csv, attn_plot and writers fuzzers into fuzz/corpus/<target>/
(Python standard library only). The npy seeds (fuzz/corpus/npy/) were written by hand.
Run from anywhere: python3 fuzz/make_seeds.py"""
import math
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    folder = ROOT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def npy(shape, values, descr="<f8"):
    """A version 1.0 .npy file in C order."""
    fmt = {"<f8": "<d", "<f4": "<f"}[descr]
    shape_text = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    body = b"".join(struct.pack(fmt, v) for v in values)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + body


# --- csv: the wide form and its edge cases -----------------------------------------------------
write("csv", "plain.csv", "0.1,0.9\n0.5,0.5\n")
write("csv", "labels_both.csv", ",le,chat\nthe,0.75,0.25\ncat,0.125,0.875\n")
write("csv", "labels_rows.csv", "a,1,2\nb,3,4\n")
write("csv", "header_only.csv", "x,y,z\n")
write("csv", "quoted.csv", ',"a,b","say ""hi"""\n"line\nbreak",1,2\n" lead",3,4\n')
write("csv", "bom_crlf.csv", "\ufeff,k1,k2\r\nq1,1e-300,-0\r\nq2,nan,-inf\r\n")
write("csv", "feff_label.csv", ',"\ufeffx",y\nr,1,2\n')
write("csv", "mixed_first.csv", "0x10,1\n2,3\n")
write("csv", "ragged.csv", "1,2,3\n4,5\n")
write("csv", "specials.csv", "inf,-Infinity,NaN,1e999,-1e-999,4.9e-324,1.7976931348623157e308\n")
write("csv", "empty_lines.csv", "\n\n1\n\n2\n")
write("csv", "unterminated.csv", '1,"2\n')
write("csv", "utf8.csv", ",\u00e9t\u00e9,\u732b,\u202eevil\nrow,0.5,0.25,0.25\n")

# --- attn_plot: argv words, then %% NAME file sections ------------------------------------------
CSV = ",le,chat,noir\nthe,0.7,0.2,0.1\nblack,0.1,0.2,0.7\ncat,0.2,0.7,0.1\n"
write("attn_plot", "svg_csv.txt", "w.csv\n-o\nout.svg\n%% w.csv\n" + CSV)
write("attn_plot", "html_query.txt", "w.csv\n--query\n1\n--values\n-o\nout.html\n%% w.csv\n" + CSV)
write("attn_plot", "stdout_svg.txt", "w.csv\n--format\nsvg\n-o\n-\n--title\n<b>&\"'\n%% w.csv\n" + CSV)
write("attn_plot", "rows_cols.txt",
      ("w.npy\n--rows\nr.txt\n--cols\nc.txt\n-o\nout.svg\n--values\n--decimals\n3\n"
       "%% r.txt\nq0\nq1\n%% c.txt\nk0\n\u202ek1\nk2\n%% w.npy\n").encode("utf-8") + npy((2, 3), [0.1, 0.2, 0.7, 0.3, 0.3, 0.4]))
write("attn_plot", "grid.txt",
      b"h.npy\n--grid-columns\n2\n--panel-titles\na,b,c\n-o\ng.svg\n%% h.npy\n" + npy((3, 2, 2), [0.5, 0.5, 1, 0, 0.25, 0.75, 0, 1, 0.9, 0.1, 0.2, 0.8]))
write("attn_plot", "truth.txt",
      b"a.npy\n--truth\nt.npy\n--layout\nunder\n-o\np.svg\n%% a.npy\n" + npy((2, 2), [0.6, 0.4, 0.3, 0.7]) +
      b"\n%% t.npy\n" + npy((2, 2), [1, 0, 0, 1]))
write("attn_plot", "chars.txt", b"p.npy\n--chars\ntext.txt\n-o\nc.html\n%% text.txt\nab\xcc\x81c\n%% p.npy\n" + npy((3,), [0.2, 0.3, 0.5]))
write("attn_plot", "extremes.txt",
      b"e.npy\n-o\ne.svg\n--raster\nalways\n%% e.npy\n" + npy((2, 2), [0.0, 5e-324, -1.7976931348623157e308, float("nan")]))
write("attn_plot", "billion_maps.txt", b"b.npy\n-o\nb.svg\n%% b.npy\n" + npy((1000000000, 0, 1), []))
write("attn_plot", "limits.txt", "w.csv\n--max-cells\n4\n--max-bytes=100\n-o\nout.svg\n%% w.csv\n" + CSV)
write("attn_plot", "bad_options.txt", "w.csv\n--vmin\n1\n--vmax\n0\n--colormap\njet\n-o\nx.pdf\n%% w.csv\n" + CSV)
write("attn_plot", "help.txt", "--help\n")
# --view: the interactive page from a 4-D .npy, several files, and a tidy CSV with hostile tokens.
write("attn_plot", "view_4d.txt", b"v.npy\n--view\n-o\nv.html\n%% v.npy\n" + npy((2, 1, 2, 2), [0.5, 0.5, 0.9, 0.1, 0.2, 0.8, 1, 0]))
write("attn_plot", "view_files.txt", b"--view\na.npy\nb.npy\n--view-precision\nuint8\n--view-start\nmap\n-o\nv.html\n%% a.npy\n"
      + npy((2, 2), [0.5, 0.5, 0.9, 0.1]) + b"\n%% b.npy\n" + npy((2, 2), [0.2, 0.8, 1, 0]))
write("attn_plot", "view_tidy.txt", "--view\nt.csv\n-o\nv.html\n%% t.csv\nstep,attention,query,key,query_token,key_token,weight\n"
      "0,enc,0,0,</script>,\"a,\u2028\",0.5\n0,enc,0,1,</script>,\u202eb,0.5\n1,x,0,0,q,k,1\n")
# Training animations (--animate): frames epoch_N sorted by N, a truth, hostile labels; a grid.
write("attn_plot", "animate.txt",
      b"--animate\nepoch_10.npy\nepoch_2.npy\n--truth\nt.npy\n--cols\nc.txt\n-o\na.html\n--precision\nuint8\n"
      b"%% epoch_10.npy\n" + npy((2, 2), [0.9, 0.1, 0.2, 0.8]) + b"\n%% epoch_2.npy\n" + npy((2, 2), [0.5, 0.5, float("nan"), 0.5]) +
      b"\n%% t.npy\n" + npy((2, 2), [1, 0, 0, 1]) + "\n%% c.txt\n</script>\n\u202eevil\n".encode("utf-8"))
write("attn_plot", "animate_grid.txt",
      b"--animate\nepoch_1.npy\nepoch_3.npy\n--frames\n3,1\n-o\ng.svg\n"
      b"%% epoch_1.npy\n" + npy((2, 1, 3), [0.2, 0.3, 0.5, 1, 0, 0]) + b"\n%% epoch_3.npy\n" + npy((2, 1, 3), [0, 0, 1, 0.1, 0.8, 0.1]))
# PNG output (the cells alone): the extremes with 2-px cells, and a 20x20 map max-pooled to 16x16
# (which notes the pooling on standard error).
write("attn_plot", "png.txt",
      b"e.npy\n-o\ne.png\n--cell\n2\n--reverse\n%% e.npy\n" + npy((2, 2), [0.0, 5e-324, -1.7976931348623157e308, float("nan")]))
# Hugging Face's shapes: --index on a 4-D stack, a 5-D --view (batch items), leading ones dropped.
write("attn_plot", "index.txt",
      b"h.npy\n--index\n1,-1\n-o\nh.svg\n%% h.npy\n" + npy((2, 3, 2, 2), [i / 24 for i in range(24)]))
write("attn_plot", "view5d.txt",
      b"--view\nv.npy\n-o\nv.html\n%% v.npy\n" + npy((2, 2, 1, 2, 2), [i / 16 for i in range(16)]))
write("attn_plot", "view_batch.txt",
      b"--view\n--batch\nb.npy\n-o\nb.html\n%% b.npy\n" + npy((2, 1, 2, 2), [0.5, 0.5, 0.25, float("inf"), 1, 0, 0, float("nan")]))
write("attn_plot", "leading_ones.txt",
      b"o.npy\n-o\no.svg\n%% o.npy\n" + npy((1, 1, 2, 3), [0.1, 0.2, 0.7, 0.5, 0.25, 0.25]))
write("attn_plot", "png_pooled.txt",
      b"p.npy\n--pool\nmax\n--max-size\n16\n--format\npng\n-o\n-\n%% p.npy\n" + npy((20, 20), [((i * 7) % 20) / 20 for i in range(400)]))
# Found by this fuzzer: --query on a CSV of labels only (a 2x0 map) took a row of a matrix
# without storage (UBSan: offset applied to a null pointer).
write("attn_plot", "regression_query_without_columns.txt", "w.csv\n--query\n1\n-o\nout.html\n%% w.csv\na\nb\n")

# --- writers: rows, cols, two option bytes, doubles, two scale ends, NUL-separated labels ------


def writers(name, rows, cols, bits, values, ends=(), labels=()):
    data = bytes([rows, cols, bits & 0xFF, bits >> 8])
    data += b"".join(struct.pack("<d", v) for v in values)
    data += b"".join(struct.pack("<d", v) for v in ends)
    data += b"\0".join(label.encode("utf-8") if isinstance(label, str) else label for label in labels)
    write("writers", name, data)


big = 1.7976931348623157e308
writers("svg_plain", 2, 3, 0x0080, [0.1, 0.2, 0.7, 0.3, 0.3, 0.4], labels=["the", "cat", "le", "chat", "noir", "title"])
writers("svg_markup_labels", 2, 2, 0x0040, [1, 2, 3, 4],
        labels=["<rect/>", "a\"b", "&amp;", "x' onload='y", "<title>t</title>"])
writers("svg_bidi", 1, 3, 0x0000, [0.2, 0.3, 0.5], labels=["r", "\u202eAlice", "not", "Bob\u2066", "t"])
writers("svg_subnormal", 1, 2, 0x0000, [0.0, 5e-324])
writers("svg_huge", 1, 3, 0x0100, [-big, 0.0, big])
writers("svg_nan_equal", 2, 2, 0x0080, [float("nan"), 3.0, 3.0, 3.0])
writers("svg_vmin_only", 1, 2, 0x0010, [big, big], ends=[big])
writers("svg_bad_utf8", 1, 1, 0x0800, [0.5], labels=[b"\xff\xfe", b"\xed\xa0\x80abc", b"\x01\x7f"])
writers("grid", 2, 2, 0x0001, [0.1, 0.9, -0.5, math.inf], labels=["a", "b"])
writers("pair", 2, 2, 0x1002, [1, 0, 0, 1], ends=[0.0, 1.0], labels=["p", "q", "r", "s", "title"])
writers("html", 2, 3, 0x30C3, [0.1, 0.2, 0.7, -big, 0, big], labels=["q0", "q1", "tok<", "&tok", "\u202etok", "T"])
writers("html_subnormal", 1, 2, 0x0003, [0.0, 5e-324], labels=["a", "b"])
