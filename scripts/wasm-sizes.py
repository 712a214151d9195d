#!/usr/bin/env python3
"""Where the console's WASM goes: its functions' code sizes, summed by name.

Usage: scripts/wasm-sizes.sh [top]  (builds what it needs, then calls this), or
       scripts/wasm-sizes.py NAMED.wasm [top]  on a wasm-opt -Oz -g output (names kept).
Generic functions share a name across their instances (the hash suffix is dropped), so a
line is what one generic costs over every type it was compiled for.
"""
import collections
import re
import sys


def leb(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def sizes(data):
    """(code size, name) of every function body, and the size of each section."""
    pos, imported, bodies, names, sections = 8, 0, [], {}, collections.Counter()
    while pos < len(data):
        kind = data[pos]
        size, pos = leb(data, pos + 1)
        end = pos + size
        if kind == 2:  # imports: function imports come first in the index space
            count, i = leb(data, pos)
            for _ in range(count):
                for _ in range(2):
                    length, i = leb(data, i)
                    i += length
                what = data[i]
                i += 1
                if what == 0:
                    _, i = leb(data, i)
                    imported += 1
                elif what == 1:
                    i += 1
                    flags, i = leb(data, i)
                    _, i = leb(data, i)
                    if flags & 1:
                        _, i = leb(data, i)
                elif what == 2:
                    flags, i = leb(data, i)
                    _, i = leb(data, i)
                    if flags & 1:
                        _, i = leb(data, i)
                elif what == 3:
                    i += 2
                else:
                    i += 1
                    _, i = leb(data, i)
        elif kind == 10:  # code
            count, i = leb(data, pos)
            for _ in range(count):
                length, j = leb(data, i)
                bodies.append(length + j - i)
                i = j + length
        elif kind == 0:  # custom: the name section
            length, i = leb(data, pos)
            if data[i:i + length] == b"name":
                i += length
                while i < end:
                    sub = data[i]
                    sub_size, i = leb(data, i + 1)
                    if sub == 1:
                        count, k = leb(data, i)
                        for _ in range(count):
                            index, k = leb(data, k)
                            length, k = leb(data, k)
                            names[index] = data[k:k + length].decode("utf8", "replace")
                            k += length
                    i += sub_size
        sections[kind] += size
        pos = end
    return [(size, names.get(n + imported, "?")) for n, size in enumerate(bodies)], sections


def main():
    data = open(sys.argv[1], "rb").read()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    functions, sections = sizes(data)
    total = collections.Counter()
    count = collections.Counter()
    for size, name in functions:
        name = re.sub(r"::h[0-9a-f]{16}$", "", name)
        total[name] += size
        count[name] += 1
    print(f"code {sections[10]} B in {len(functions)} functions; data {sections[11]} B")
    for name, size in total.most_common(top):
        print(f"{size:>8} {count[name]:>5}  {name[:150]}")


if __name__ == "__main__":
    main()
