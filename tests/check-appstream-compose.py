#!/usr/bin/env python3
"""What a software centre gets from an installed Graft.

    check-appstream-compose.py BUILD_ROOT PREFIX APPLICATION_ID

Installs the build into a temporary DESTDIR (`meson install --no-rebuild`), runs
`appstreamcli compose --no-net` on it, as Flatpak and distributions do, and checks
the catalog entry: the component is there, with cached icons of 64 and 128 pixels (a
missing or misnamed icon drops them), its launchable, categories from the desktop
file, the MIME types as provided media types, a release, screenshots with captions,
the French summary, description and captions; and that compose reported no error or warning for it. TAP output; skips without meson or appstreamcli's
compose add-on (Debian: appstream-compose).
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from tap import check, finish, skip

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    build_root, prefix, app_id = sys.argv[1:]
    meson = shutil.which("meson")
    if meson is None:
        skip("meson is not on PATH")
    if shutil.which("appstreamcli") is None:
        skip("appstreamcli is missing")
    probe = subprocess.run(["appstreamcli", "compose", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip("appstreamcli has no compose add-on (Debian: apt-get install appstream-compose)")

    with tempfile.TemporaryDirectory(prefix="graft-compose-") as tmp:
        destdir = os.path.join(tmp, "dest")
        result = os.path.join(tmp, "result")
        out = subprocess.run([meson, "install", "-C", build_root, "--no-rebuild", "--quiet",
                              "--destdir", destdir], capture_output=True, text=True)
        if out.returncode != 0:
            check(False, "meson install into a DESTDIR", out.stdout + out.stderr)
            finish()

        out = subprocess.run(["appstreamcli", "compose", "--no-net", "--no-color",
                              "--print-report=full", f"--prefix={prefix}", "--origin=graft",
                              f"--result-root={result}", destdir],
                             capture_output=True, text=True)
        report = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
        check(out.returncode == 0, "appstreamcli compose succeeds", report)

        # The report lists hints as "  E: tag", "  W: tag", "  I: tag", "  P: tag".
        # AppStream 0.16 does not know Flathub's <developer> (info only); nothing of
        # error or warning level is acceptable.
        serious = [line.strip() for line in report.splitlines()
                   if re.match(r"^\s+[EW]: ", line)]
        check(not serious, "compose reports no error or warning", report)

        catalogs = []
        for root, _, files in os.walk(result):
            catalogs += [os.path.join(root, f) for f in files if f.endswith(".xml.gz")]
        check(len(catalogs) == 1, "compose writes one catalog", f"catalogs: {catalogs}")
        if len(catalogs) != 1:
            finish()
        try:
            with gzip.open(catalogs[0]) as f:
                catalog = ET.parse(f).getroot()
        except (OSError, ET.ParseError) as e:
            # compose leaves an empty catalog when it drops the only component
            check(False, "the catalog is XML", f"{e}\n{report}")
            finish()
        component = None
        for c in catalog.findall("component"):
            if c.findtext("id") == app_id:
                component = c
        check(component is not None, f"the catalog has {app_id}",
              ET.tostring(catalog, encoding="unicode")[:2000])
        if component is None:
            finish()

        icons = {(i.get("type"), i.get("width")) for i in component.findall("icon")}
        for size in ("64", "128"):
            check(("cached", size) in icons, f"a cached {size}×{size} icon", f"icons: {icons}")
        icon_files = [os.path.join(r, f) for r, _, fs in os.walk(result) for f in fs
                      if f == app_id + ".png"]
        check(len(icon_files) >= 2, "the icon was rendered to PNG", f"{icon_files}")
        launchable = component.find("launchable")
        check(launchable is not None and launchable.text == app_id + ".desktop",
              "the launchable is the desktop file", ET.tostring(component, encoding="unicode")[:500])
        categories = [c.text for c in component.iter("category")]
        check("Science" in categories, "categories come from the desktop file", f"{categories}")
        mediatypes = {m.text for m in component.iter("mediatype")}
        check({"application/onnx", "application/x-graft-project"} <= mediatypes,
              "the MIME types are provided media types", f"{mediatypes}")
        check(component.find("releases/release") is not None, "a release is listed")
        check(component.find("content_rating") is not None
              and component.find("content_rating").get("type") == "oars-1.1",
              "an OARS 1.1 content rating")
        shots = component.findall("screenshots/screenshot")
        check(len(shots) >= 1 and all(s.find("caption") is not None for s in shots),
              "screenshots, each with a caption", f"{len(shots)} screenshots")
        check(any(c.get("scheme_preference") == "light" for c in component.iter("color"))
              and any(c.get("scheme_preference") == "dark" for c in component.iter("color")),
              "brand colours for light and dark")

        # French: the languages block, and the translated strings merged by meson.
        langs = {l.text: l.get("percentage") for l in component.iter("lang")}
        check("fr" in langs, "French is listed among the languages", f"{langs}")
        # meson's i18n.merge_file does not depend on po/*.po: after editing one, an
        # incremental build keeps the old merged file (touch data/*.in, or rebuild).
        fr_summary = [s.text for s in component.findall("summary") if s.get(XML_LANG) == "fr"]
        check(len(fr_summary) == 1, "the summary is translated into French", f"{fr_summary}")
        fr_description = [d for d in component.findall("description") if d.get(XML_LANG) == "fr"]
        check(len(fr_description) == 1, "the description is translated into French")
        fr_captions = [c for c in component.iter("caption") if c.get(XML_LANG) == "fr"]
        check(len(fr_captions) == len(shots), "every caption is translated into French",
              f"{len(fr_captions)} of {len(shots)}")

    finish()


if __name__ == "__main__":
    main()
