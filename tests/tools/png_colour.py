#!/usr/bin/env python3
"""png_colour.py: counts the coloured pixels of a PNG screenshot (8-bit RGB or RGBA, not
interlaced, as Chromium writes them), so a test can tell a page that shows its charts from a
blank or text-only one. Standard library only.

Usage: png_colour.py FILE  -> prints "width height coloured_pixels"
A pixel is coloured when its channels differ by more than 40: text and backgrounds are grey,
chart series are not."""
import struct
import sys
import zlib


def paeth(left, up, up_left):
    estimate = left + up - up_left
    distance_left, distance_up = abs(estimate - left), abs(estimate - up)
    distance_up_left = abs(estimate - up_left)
    if distance_left <= distance_up and distance_left <= distance_up_left:
        return left
    return up if distance_up <= distance_up_left else up_left


def rows(data, width, height, channels):
    stride = width * channels
    previous = bytearray(stride)
    position = 0
    for _ in range(height):
        kind = data[position]
        row = bytearray(data[position + 1:position + 1 + stride])
        position += 1 + stride
        for index in range(stride):
            left = row[index - channels] if index >= channels else 0
            up = previous[index]
            up_left = previous[index - channels] if index >= channels else 0
            if kind == 1:
                row[index] = (row[index] + left) & 0xFF
            elif kind == 2:
                row[index] = (row[index] + up) & 0xFF
            elif kind == 3:
                row[index] = (row[index] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                row[index] = (row[index] + paeth(left, up, up_left)) & 0xFF
        yield row
        previous = row


def main(path):
    blob = open(path, "rb").read()
    if blob[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("not a PNG")
    position, idat = 8, b""
    width = height = channels = 0
    while position < len(blob):
        length, kind = struct.unpack(">I4s", blob[position:position + 8])
        body = blob[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                sys.exit("unsupported PNG kind")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    coloured = 0
    for row in rows(zlib.decompress(idat), width, height, channels):
        for index in range(0, len(row), channels * 2):  # every other pixel is enough
            red, green, blue = row[index], row[index + 1], row[index + 2]
            if max(red, green, blue) - min(red, green, blue) > 40:
                coloured += 2
    print(width, height, coloured)


if __name__ == "__main__":
    main(sys.argv[1])
