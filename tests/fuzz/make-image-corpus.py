#!/usr/bin/python3
"""Writes the seed corpus of fuzz-image into tests/fuzz/corpus-image/: a copy of every
test image under tests/data/images/ of at most 10 KB, plus files those do not cover:
odd sizes and depths, interlaced 16-bit with transparency, 1 pixel, restart markers,
4:2:2 subsampling, and files that declare far more pixels than they hold (the memory
budget's cases: a PNG whose rows are all zero, a 277-byte JPEG claiming 10848x8256).

Run with Debian's Python (it has PIL and numpy):

    /usr/bin/python3 tests/fuzz/make-image-corpus.py

Deterministic; every file stays under 10 KB.
"""

import glob
import io
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus-image')
DATA = os.path.join(HERE, '..', 'data', 'images')
MAX_BYTES = 10 * 1024
rng = np.random.RandomState(11)


def write(name, data):
    assert len(data) <= MAX_BYTES, (name, len(data))
    with open(os.path.join(CORPUS, name), 'wb') as f:
        f.write(data)


def chunk(kind, payload):
    body = kind + payload
    return struct.pack('>I', len(payload)) + body + struct.pack('>I', zlib.crc32(body) & 0xffffffff)


def png(width, height, depth, colour, rows, interlace=0, extra=b''):
    """A PNG by hand: rows is the raw scanline data (filter bytes included)."""
    ihdr = struct.pack('>IIBBBBB', width, height, depth, colour, 0, 0, interlace)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + extra
            + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))


def pil(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise(width, height, mode='RGB'):
    channels = len(mode) if mode != 'L' else 1
    a = rng.randint(0, 256, (height, width, channels)).astype(np.uint8)
    return Image.fromarray(a[:, :, 0] if channels == 1 else a, mode)


def gradient(width, height):
    y, x = np.mgrid[0:height, 0:width]
    a = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], -1)
    return Image.fromarray(a.astype(np.uint8), 'RGB')


def main():
    os.makedirs(CORPUS, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(DATA, '*'))):
        if os.path.isfile(path) and os.path.getsize(path) <= MAX_BYTES and not path.endswith('.py'):
            shutil.copy(path, os.path.join(CORPUS, os.path.basename(path)))

    # PNG: shapes and depths.
    write('png-1x1.png', pil(noise(1, 1), 'PNG'))
    write('png-1x37-rgba.png', pil(noise(1, 37, 'RGBA'), 'PNG'))
    write('png-45x3-grey.png', pil(noise(45, 3, 'L'), 'PNG'))
    write('png-gradient-interlaced.png', pil(gradient(33, 21), 'PNG', optimize=False))
    rows16 = b''.join(b'\x00' + rng.randint(0, 256, 7 * 8).astype(np.uint8).tobytes() for _ in range(5))
    write('png-rgba16-interlaced.png', png(7, 5, 16, 6, rows16 * 2, interlace=1))
    trns = chunk(b'tRNS', struct.pack('>HHH', 0, 0, 0))
    rows_rgb = b''.join(b'\x01' + bytes(rng.randint(0, 4, 3 * 9).astype(np.uint8)) for _ in range(6))
    write('png-rgb-trns.png', png(9, 6, 8, 2, rows_rgb, extra=trns))
    write('png-grey2.png', png(13, 4, 2, 0, b''.join(b'\x00' + bytes(4) for _ in range(4))))
    exif = chunk(b'eXIf', b'MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00')
    write('png-exif6-early.png', png(5, 3, 8, 0, b''.join(b'\x00' + bytes(range(5)) for _ in range(3)), extra=exif))
    # Large, compressible: 1500x1500 one-bit, and a 16-bit RGBA 1200x900 of zeros:
    # decoded at a reduced size for a small min_side.
    write('png-1500x1500-1bit.png', png(1500, 1500, 1, 0, (b'\x00' + bytes(188)) * 1500))
    write('png-1200x900-rgba16.png', png(1200, 900, 16, 6, (b'\x00' + bytes(1200 * 8)) * 900))
    # Declares 30000x6600 16-bit RGBA (1.6 GB of pixels) in a few bytes: refused as
    # truncated before any pixel memory.
    write('png-huge-declared.png', png(30000, 6600, 16, 6, (b'\x00' + bytes(30000 * 8)) * 2))

    # JPEG: subsamplings, progressive, restart intervals, EXIF.
    image = gradient(35, 27)
    write('jpeg-420.jpg', pil(image, 'JPEG', quality=60))
    write('jpeg-422.jpg', pil(image, 'JPEG', quality=60, subsampling=1))
    write('jpeg-progressive-444.jpg', pil(image, 'JPEG', quality=70, progressive=True, subsampling=0))
    write('jpeg-grey-progressive.jpg', pil(image.convert('L'), 'JPEG', quality=50, progressive=True))
    write('jpeg-cmyk-small.jpg', pil(image.convert('CMYK'), 'JPEG', quality=50))
    write('jpeg-1x1.jpg', pil(noise(1, 1), 'JPEG'))
    write('jpeg-restart.jpg', pil(noise(24, 24), 'JPEG', quality=30, restart_marker_blocks=1))
    exif8 = Image.Exif()
    exif8[0x0112] = 8
    write('jpeg-exif8-small.jpg', pil(gradient(20, 12), 'JPEG', quality=50, exif=exif8.tobytes()))
    # A large flat image: tiny file, decoded scaled.
    write('jpeg-1000x750-flat.jpg', pil(Image.new('RGB', (1000, 750), (90, 140, 200)), 'JPEG', quality=20,
                                        progressive=True))
    # The case: a real header that declares 10848x8256, and almost no data.
    big = pil(Image.new('RGB', (64, 64), (10, 20, 30)), 'JPEG', quality=20)
    sof = big.index(b'\xff\xc0')
    header = bytearray(big[:big.index(b'\xff\xda')])
    struct.pack_into('>HH', header, sof + 5, 8256, 10848)
    sos = big[big.index(b'\xff\xda'):]
    write('jpeg-huge-declared.jpg', bytes(header) + sos[:14] + b'\x00' * 8 + b'\xff\xd9')


if __name__ == '__main__':
    main()
