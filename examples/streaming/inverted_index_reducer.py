#!/usr/bin/env python3
"""Inverted index reducer for ampmr (Hadoop Streaming convention).

Reads "word<TAB>FILE" lines sorted by word and writes, per word,
"word<TAB>FILE1,FILE2,..." with the distinct files in sorted order.
"""
import sys


def buffered_stdout():
    # Big writes even when PYTHONUNBUFFERED is set: one system call per 64 KiB
    # of output, not per line.
    return open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)


def main():
    out = buffered_stdout()
    current, files = None, set()
    for line in sys.stdin.buffer:
        word, _, name = line.rstrip(b"\n").partition(b"\t")
        if word != current:
            if current is not None:
                out.write(current + b"\t" + b",".join(sorted(files)) + b"\n")
            current, files = word, set()
        files.add(name)
    if current is not None:
        out.write(current + b"\t" + b",".join(sorted(files)) + b"\n")
    out.flush()


if __name__ == "__main__":
    main()
