#!/usr/bin/env python3
"""The metainfo's screenshots are the files in the repository, and fit Flathub's rules.

    check-screenshots.py METAINFO_XML_IN SOURCE_ROOT

For every <screenshot>: one caption; one source image whose URL is https, on
raw.githubusercontent.com/graftlab/graft at the tag of the newest <release> (v0.1.0
for release 0.1.0), naming a file that exists in the source tree; that file is a
PNG of at most 1000 × 700 whose size matches the width and height the metainfo
gives. Exactly one screenshot is the default. Files in data/screenshots/ that no
screenshot links are reported too (stale pictures). TAP output.
"""
import os
import struct
import sys
import xml.etree.ElementTree as ET

from tap import check, finish

PREFIX = "https://raw.githubusercontent.com/graftlab/graft/"


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    metainfo, source_root = sys.argv[1:]
    root = ET.parse(metainfo).getroot()
    releases = root.findall("releases/release")
    check(releases, "the metainfo lists releases")
    tag = "v" + releases[0].get("version") if releases else None
    shots = root.findall("screenshots/screenshot")
    check(shots, "the metainfo has screenshots")
    check(sum(1 for s in shots if s.get("type") == "default") == 1,
          "exactly one screenshot is the default")
    linked = set()
    for n, shot in enumerate(shots, 1):
        captions = [c for c in shot.findall("caption") if c.get("{http://www.w3.org/XML/1998/namespace}lang") is None]
        check(len(captions) == 1 and (captions[0].text or "").strip(),
              f"screenshot {n} has a caption")
        images = [i for i in shot.findall("image") if i.get("type", "source") == "source"]
        check(len(images) == 1, f"screenshot {n} has one source image")
        if len(images) != 1:
            continue
        url = (images[0].text or "").strip()
        want = f"{PREFIX}{tag}/"
        check(url.startswith(want), f"screenshot {n} is linked at the release tag {tag}",
              f"{url} does not start with {want}")
        if not url.startswith(PREFIX):
            continue
        relative = url[len(PREFIX):].split("/", 1)[1]
        path = os.path.join(source_root, relative)
        linked.add(os.path.normpath(path))
        check(os.path.exists(path), f"screenshot {n}: {relative} is in the repository")
        if not os.path.exists(path):
            continue
        size = png_size(path)
        check(size is not None, f"screenshot {n}: {relative} is a PNG")
        if size is None:
            continue
        w, h = size
        check(w <= 1000 and h <= 700, f"screenshot {n}: {w} × {h} fits in 1000 × 700")
        declared = (images[0].get("width"), images[0].get("height"))
        check(declared == (None, None) or declared == (str(w), str(h)),
              f"screenshot {n}: the metainfo says its size ({declared[0]} × {declared[1]})",
              f"the file is {w} × {h}")
    folder = os.path.join(source_root, "data", "screenshots")
    if os.path.isdir(folder):
        unused = sorted(f for f in os.listdir(folder)
                        if f.endswith(".png") and os.path.normpath(os.path.join(folder, f)) not in linked)
        check(not unused, "every picture in data/screenshots/ is linked", f"unused: {unused}")

    finish()


if __name__ == "__main__":
    main()
