#!/usr/bin/env python3
"""Inverted index mapper for ampmr (Hadoop Streaming convention).

For every word (a maximal run of ASCII letters) of its split, writes
"word<TAB>FILE" once, where FILE is the base name of the input file the split
comes from, which the worker passes in $mapreduce_map_input_file.
"""
import os
import re
import sys

WORD = re.compile(rb"[A-Za-z]+")


def buffered_stdout():
    # Big writes even when PYTHONUNBUFFERED is set: one system call per 64 KiB
    # of output, not per line.
    return open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)


def main():
    name = os.path.basename(os.environ["mapreduce_map_input_file"]).encode()
    seen = set()
    for line in sys.stdin.buffer:
        seen.update(WORD.findall(line))
    out = buffered_stdout()
    for word in sorted(seen):
        out.write(word + b"\t" + name + b"\n")
    out.flush()


if __name__ == "__main__":
    main()
