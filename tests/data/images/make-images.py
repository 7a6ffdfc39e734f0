#!/usr/bin/python3
"""Makes the small test images of Graft's image loader tests (tests/test-data-image.c,
tests/test-data-loader.c) and the pixels they should decode to.

    /usr/bin/python3 tests/data/images/make-images.py [OUTDIR]

OUTDIR defaults to the folder of this script. Needs Debian's python3-pil, python3-numpy,
python3-torch and python3-torchvision (so run it with /usr/bin/python3) and ImageMagick's
`convert`. Every pixel comes from fixed seeds, so two runs write the same images.

It writes:
- png-*.png: every PNG colour type and depth the loader handles (palette at 8 and 4
  bits, palette with tRNS, grey at 1 and 8 bits, grey+alpha, RGB, RGBA, 16-bit grey and
  RGBA, Adam7-interlaced RGB and 16-bit RGBA), a PNG with an eXIf chunk (orientation 6).
  The 8-bit ones go through PIL; the 16-bit and interlaced ones through a small PNG
  writer below (PIL writes neither), so their bytes are exactly what we say they are.
- jpeg-*.jpg: baseline 4:2:0, 4:4:4, odd size, progressive, greyscale, CMYK (Adobe
  inverted, as PIL and libjpeg write it), a CMYK JPEG written by ImageMagick, EXIF
  orientations 1..8 (alternately little- and big-endian TIFF headers), hostile EXIF
  (IFD offsets and counts pointing past the segment), and a 256x192 JPEG for the
  reduced-size decode (expected/jpeg-large-WxH.ppm: PIL's draft() decode at 1/2, 1/4).
- broken files: truncated.png, truncated.jpg, baddata.png (a changed byte in the
  compressed IDAT data), badcrc.png (a flipped bit in IDAT's CRC),
  text.jpg (a text file), empty.png (0 bytes), huge.png (IHDR says 40000x8),
  huge.jpg (SOF says 40000x32).
- expected/<name>.ppm: the 8-bit RGB pixels each image should decode to. For 8-bit
  PNGs and every JPEG this is PIL's decoding (for JPEG, PIL and the loader run the
  same libjpeg-turbo, so they should agree closely; for CMYK, PIL's cmyk2rgb), with
  EXIF orientation applied by ImageOps.exif_transpose; for 16-bit PNGs it is computed
  here from the 16-bit samples (v * 255 / 65535 rounded, which is what libpng's
  png_set_scale_16 does; PIL would truncate instead). Alpha is composited on grey
  128: out = (c * a + 128 * (255 - a) + 127) // 255, the loader's documented rule.
  expected/exif-upright.ppm is the upright image the EXIF files were made from.
- resize-*.png and expected/resize-*.f32: the preprocessing fixtures: torchvision's
  F.resize(img, R) (antialias=True; on the PIL image, and on the float tensor) then
  F.center_crop(S) and F.to_tensor, stored as float32 (3,S,S) little-endian, no
  header. The name says the case: resize-<src>-r<R>-s<S>-<pil|tensor>.f32.
"""
import io
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(OUT, "expected")
os.makedirs(EXPECTED, exist_ok=True)


def path(name):
    return os.path.join(OUT, name)


def write_ppm(name, rgb):
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    with open(os.path.join(EXPECTED, name), "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(rgb.tobytes())


def composite(rgb, alpha):
    """The loader's rule: alpha over grey 128, integer, rounded."""
    rgb = rgb.astype(np.int64)
    a = alpha.astype(np.int64)[..., None]
    return ((rgb * a + 128 * (255 - a) + 127) // 255).astype(np.uint8)


def scale16(v):
    return ((v.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)


def base_image(w, h, seed):
    """Smooth gradients, hard edges and some noise: something every decoder step touches."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    img = np.stack([r, g, b], axis=-1)
    img[h // 4:h // 2, w // 4:w // 2] = [250, 20, 30]
    img[h // 2:3 * h // 4, w // 2:3 * w // 4] = [10, 200, 240]
    img += rng.normal(0, 8, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------
# A small PNG writer: any colour type, 8 or 16 bits, optional Adam7.

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(samples, color_type, bit_depth, interlace=False, width=None, height=None):
    """samples is (H, W, C) uint8 or uint16 (big-endian is written)."""
    h, w, c = samples.shape
    width = w if width is None else width
    height = h if height is None else height
    dtype = ">u2" if bit_depth == 16 else "u1"

    def rows(img):
        out = b""
        for row in img:
            out += b"\x00" + row.astype(dtype).tobytes()  # filter type 0
        return out

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += rows(sub)
    else:
        raw = rows(samples)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------------------
# PNG

def make_pngs():
    rgb = base_image(40, 30, 1)

    Image.fromarray(rgb).save(path("png-rgb.png"))
    write_ppm("png-rgb.ppm", rgb)

    # Palette at 8 bits (adaptive palette of the base image) and at 4 bits.
    pal = Image.fromarray(rgb).quantize(colors=200, dither=Image.Dither.NONE)
    pal.save(path("png-palette.png"))
    write_ppm("png-palette.ppm", np.asarray(Image.open(path("png-palette.png")).convert("RGB")))
    pal4 = Image.fromarray(rgb).quantize(colors=16, dither=Image.Dither.NONE)
    pal4.save(path("png-palette4.png"), bits=4)
    with Image.open(path("png-palette4.png")) as im:
        assert im.mode == "P"
        write_ppm("png-palette4.ppm", np.asarray(im.convert("RGB")))

    # Palette with a tRNS chunk: three entries transparent or half transparent.
    palt = Image.fromarray(rgb).quantize(colors=32, dither=Image.Dither.NONE)
    trns = bytes([0, 128, 64] + [255] * 29)
    palt.save(path("png-palette-trns.png"), transparency=trns)
    with Image.open(path("png-palette-trns.png")) as im:
        rgba = np.asarray(im.convert("RGBA"))
    assert (rgba[..., 3] < 255).any()
    write_ppm("png-palette-trns.ppm", composite(rgba[..., :3], rgba[..., 3]))

    grey = rgb[..., 1].copy()
    Image.fromarray(grey, "L").save(path("png-grey.png"))
    write_ppm("png-grey.ppm", np.repeat(grey[..., None], 3, axis=-1))

    bits = (grey > 128)
    Image.fromarray(bits).convert("1").save(path("png-grey1.png"))
    with Image.open(path("png-grey1.png")) as im:
        write_ppm("png-grey1.ppm", np.asarray(im.convert("RGB")))

    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    la = np.stack([grey, alpha], axis=-1)
    Image.fromarray(la, "LA").save(path("png-grey-alpha.png"))
    with Image.open(path("png-grey-alpha.png")) as im:
        got = np.asarray(im)
        assert (got == la).all()
    write_ppm("png-grey-alpha.ppm", composite(np.repeat(grey[..., None], 3, axis=-1), alpha))

    rgba = np.concatenate([rgb, alpha[..., None]], axis=-1)
    Image.fromarray(rgba, "RGBA").save(path("png-rgba.png"))
    write_ppm("png-rgba.ppm", composite(rgb, alpha))

    # 16 bits: samples that do not all have equal bytes, so truncation and rounding differ.
    rng = np.random.default_rng(16)
    grey16 = (grey.astype(np.uint16) * 257 + rng.integers(0, 256, grey.shape)).astype(np.uint16)
    write_bytes("png-grey16.png", png_bytes(grey16[..., None], 0, 16))
    write_ppm("png-grey16.ppm", np.repeat(scale16(grey16)[..., None], 3, axis=-1))

    rgba16 = (rgba.astype(np.uint16) * 257 + rng.integers(0, 256, rgba.shape)).astype(np.uint16)
    write_bytes("png-rgba16.png", png_bytes(rgba16, 6, 16))
    write_ppm("png-rgba16.ppm", composite(scale16(rgba16[..., :3]), scale16(rgba16[..., 3])))

    # Adam7: odd sizes so some passes are short or empty.
    rgb_odd = base_image(37, 23, 7)
    write_bytes("png-interlaced.png", png_bytes(rgb_odd, 2, 8, interlace=True))
    with Image.open(path("png-interlaced.png")) as im:
        assert im.info.get("interlace") == 1
        assert (np.asarray(im.convert("RGB")) == rgb_odd).all()
    write_ppm("png-interlaced.ppm", rgb_odd)

    rgba16_odd = rng.integers(0, 65536, (23, 37, 4)).astype(np.uint16)
    write_bytes("png-interlaced-rgba16.png", png_bytes(rgba16_odd, 6, 16, interlace=True))
    write_ppm("png-interlaced-rgba16.ppm", composite(scale16(rgba16_odd[..., :3]), scale16(rgba16_odd[..., 3])))

    # eXIf chunk, orientation 6 (rotate 90 degrees clockwise to view).
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(path("png-exif6.png"), exif=exif.tobytes())
    with Image.open(path("png-exif6.png")) as im:
        write_ppm("png-exif6.ppm", np.asarray(ImageOps.exif_transpose(im).convert("RGB")))

    # Broken files.
    data = open(path("png-rgb.png"), "rb").read()
    write_bytes("truncated.png", data[:len(data) // 2])
    idat = data.find(b"IDAT")
    bad = bytearray(data)
    bad[idat + 20] ^= 0x10
    write_bytes("baddata.png", bytes(bad))              # zlib stream damaged
    length = struct.unpack(">I", data[idat - 4:idat])[0]
    bad = bytearray(data)
    bad[idat + 4 + length + 3] ^= 0x01                  # IDAT's CRC damaged
    write_bytes("badcrc.png", bytes(bad))
    write_bytes("empty.png", b"")
    huge = png_bytes(np.zeros((1, 1, 3), np.uint8), 2, 8, width=40000, height=8)
    write_bytes("huge.png", huge)


# --------------------------------------------------------------------------------------
# JPEG

def exif_segment(orientation, big_endian):
    """APP1 payload: 'Exif\\0\\0', TIFF header, IFD0 with an unrelated entry then Orientation."""
    e = ">" if big_endian else "<"
    head = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    # Two entries: an unrelated one first (ImageDescription, ASCII, pointing at data), then Orientation.
    desc = b"graft\0"
    entries = struct.pack(e + "H", 2)
    entries += struct.pack(e + "HHII", 0x010E, 2, len(desc), 8 + 2 + 2 * 12 + 4)
    entries += struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", orientation, 0)
    entries += struct.pack(e + "I", 0)  # no IFD1
    return b"Exif\0\0" + head + entries + desc


def hostile_exif():
    """Orientation 6 that must be ignored: IFD0 claims 4000 entries, past the segment's end."""
    e = "<"
    head = b"II" + struct.pack(e + "HI", 42, 8)
    entries = struct.pack(e + "H", 4000) + struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", 6, 0)
    return b"Exif\0\0" + head + entries


def exif_offset_out_of_range():
    return b"Exif\0\0MM" + struct.pack(">HI", 42, 0x7FFFFFF0) + b"\0" * 16


# The inverse of each EXIF orientation: what to store so that the viewer's transform
# gives back the upright image.
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def expect_pil(name, out_name=None):
    with Image.open(path(name)) as im:
        im = ImageOps.exif_transpose(im)
        write_ppm((out_name or os.path.splitext(name)[0]) + ".ppm", np.asarray(im.convert("RGB")))


def make_jpegs():
    rgb = base_image(48, 32, 2)
    img = Image.fromarray(rgb)

    img.save(path("jpeg-baseline.jpg"), quality=90)               # 4:2:0
    img.save(path("jpeg-444.jpg"), quality=90, subsampling=0)
    Image.fromarray(base_image(37, 23, 3)).save(path("jpeg-odd.jpg"), quality=85)
    img.save(path("jpeg-progressive.jpg"), quality=90, progressive=True)
    img.convert("L").save(path("jpeg-grey.jpg"), quality=90)
    img.convert("CMYK").save(path("jpeg-cmyk.jpg"), quality=95)
    # ImageMagick's CMYK JPEG (its own conversion, its own markers).
    subprocess.run(["convert", path("png-rgb.png"), "-colorspace", "CMYK", "-quality", "92",
                    path("jpeg-cmyk-im.jpg")], check=True)
    with Image.open(path("jpeg-cmyk-im.jpg")) as im:
        assert im.mode == "CMYK", im.mode
    for name in ["jpeg-baseline.jpg", "jpeg-444.jpg", "jpeg-odd.jpg", "jpeg-progressive.jpg",
                 "jpeg-grey.jpg", "jpeg-cmyk.jpg", "jpeg-cmyk-im.jpg"]:
        expect_pil(name)

    # EXIF orientations: quadrants of distinct colours, so a wrong transform is obvious.
    up = np.zeros((32, 48, 3), np.uint8)
    up[:16, :24] = [230, 30, 30]
    up[:16, 24:] = [30, 200, 30]
    up[16:, :24] = [30, 30, 220]
    up[16:, 24:] = [240, 230, 40]
    up[4:8, 4:40] = [255, 255, 255]   # a bar near the top, left-leaning
    write_ppm("exif-upright.ppm", up)
    upright = Image.fromarray(up)
    for o in range(1, 9):
        stored = upright if STORE[o] is None else upright.transpose(STORE[o])
        name = "jpeg-exif%d.jpg" % o
        stored.save(path(name), quality=95, subsampling=0, exif=exif_segment(o, big_endian=(o % 2 == 0)))
        with Image.open(path(name)) as im:
            assert im.getexif().get(0x0112) == o
        expect_pil(name)
    upright.transpose(Image.Transpose.ROTATE_90).save(path("jpeg-exif-hostile.jpg"), quality=95,
                                                       subsampling=0, exif=hostile_exif())
    with Image.open(path("jpeg-exif-hostile.jpg")) as im:
        write_ppm("jpeg-exif-hostile.ppm", np.asarray(im.convert("RGB")))  # no transform
    upright.save(path("jpeg-exif-badoffset.jpg"), quality=95, subsampling=0, exif=exif_offset_out_of_range())
    with Image.open(path("jpeg-exif-badoffset.jpg")) as im:
        write_ppm("jpeg-exif-badoffset.ppm", np.asarray(im.convert("RGB")))

    # A larger JPEG for the reduced-size (DCT-scaled) decode.
    # PIL's draft() asks libjpeg for the same DCT scaling (1/2, 1/4) the loader uses.
    Image.fromarray(base_image(256, 192, 4)).save(path("jpeg-large.jpg"), quality=90)
    for w, h in ((128, 96), (64, 48)):
        with Image.open(path("jpeg-large.jpg")) as im:
            im.draft("RGB", (w, h))
            assert im.size == (w, h), im.size
            write_ppm("jpeg-large-%dx%d.ppm" % (w, h), np.asarray(im.convert("RGB")))

    data = open(path("jpeg-baseline.jpg"), "rb").read()
    write_bytes("truncated.jpg", data[:len(data) * 2 // 3])
    with open(path("text.jpg"), "w") as f:
        f.write("This is not a picture, only a text file with a .jpg name.\n")
    # SOF0 claims 40000 pixels wide.
    sof = data.find(b"\xff\xc0")
    huge = bytearray(data)
    huge[sof + 7:sof + 9] = struct.pack(">H", 40000)
    write_bytes("huge.jpg", bytes(huge))


# --------------------------------------------------------------------------------------
# Resize + centre crop fixtures, from torchvision.

def make_resize():
    import torch
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode

    sources = {
        "land": base_image(171, 131, 5),                 # landscape
        "port": base_image(131, 171, 6),                 # portrait
        "small": base_image(40, 30, 8),                  # upscale
    }
    # (source, resize, crop): downscale by 2.05, by 1.31 with a deep crop, by 2.15, upscale by 1.5.
    cases = [("land", 64, 56), ("land", 100, 40), ("port", 61, 33), ("small", 45, 40)]
    for name, rgb in sources.items():
        Image.fromarray(rgb).save(path("resize-%s.png" % name))
    for name, r, s in cases:
        with Image.open(path("resize-%s.png" % name)) as im:
            im = im.convert("RGB")
            pil = F.to_tensor(F.center_crop(F.resize(im, r, InterpolationMode.BILINEAR, antialias=True), s))
            t = F.to_tensor(im)
            tens = F.center_crop(F.resize(t, r, InterpolationMode.BILINEAR, antialias=True), s)
        assert pil.shape == (3, s, s) and tens.shape == (3, s, s)
        for kind, x in (("pil", pil), ("tensor", tens)):
            x.numpy().astype("<f4").tofile(os.path.join(EXPECTED, "resize-%s-r%d-s%d-%s.f32" % (name, r, s, kind)))


make_pngs()
make_jpegs()
make_resize()
