#!/usr/bin/env python3
"""What a file manager makes of Graft's files, with Graft's MIME types installed.

    check-mime.py MERGED_MIME_XML MERGED_DESKTOP_FILE

Builds a private shared-mime-info database (the system's freedesktop.org.xml plus
Graft's file) and a private applications folder holding Graft's desktop file, then
asks GIO, the way Nautilus does (`gio info`, `gio mime`), about:

  NAME.graft/project.db   a Graft project database   -> application/x-graft-project
  other.db                another SQLite database    -> application/vnd.sqlite3
  model.onnx              an ONNX model              -> application/onnx
  NAME.graft/             the project folder         -> inode/directory (a folder is
                          a folder for every file manager; documented, not claimed)

and checks that Graft is the registered application for both of its types, that
every type in the desktop file's MimeType is defined, and that update-mime-database
takes the file without a warning. TAP output; skips without update-mime-database
or gio.
"""
import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from tap import check, finish, skip

MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
GRAFT_APPLICATION_ID = 0x47524654  # 'GRFT', PRAGMA application_id of project.db


def system_freedesktop_xml():
    dirs = os.environ.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share").split(":")
    for d in dirs + ["/usr/share"]:
        path = os.path.join(d, "mime", "packages", "freedesktop.org.xml")
        if os.path.exists(path):
            return path
    return None


def write_sqlite(path, application_id):
    """An SQLite database with the given PRAGMA application_id."""
    try:
        import sqlite3
    except ImportError:
        sqlite3 = None
    if sqlite3 is not None:
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA application_id = {application_id}")
        db.execute("CREATE TABLE classes (id INTEGER PRIMARY KEY, name TEXT)")
        db.commit()
        db.close()
        return
    # Without Python's sqlite3: the 100-byte header is all a sniffer reads.
    header = bytearray(4096)
    header[0:16] = b"SQLite format 3\0"
    header[16:18] = (4096).to_bytes(2, "big")
    header[68:72] = application_id.to_bytes(4, "big")
    with open(path, "wb") as f:
        f.write(header)


def content_type(env, path):
    out = subprocess.run(["gio", "info", "-a", "standard::content-type", path],
                         env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("standard::content-type:"):
            return line.split(":", 3)[-1].strip()
    return f"(gio info failed: {out.stderr.strip()})"


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mime_xml, desktop_file = sys.argv[1:]
    for tool in ("update-mime-database", "gio"):
        if shutil.which(tool) is None:
            skip(f"{tool} is missing")
    base = system_freedesktop_xml()
    if base is None:
        skip("no freedesktop.org.xml (shared-mime-info) on this system")

    # The file itself: our types, each with an English and a French comment.
    tree = ET.parse(mime_xml)
    defined = {}
    for mime_type in tree.getroot().findall(f"{MIME_NS}mime-type"):
        comments = {c.get("{http://www.w3.org/XML/1998/namespace}lang"): c.text
                    for c in mime_type.findall(f"{MIME_NS}comment")}
        defined[mime_type.get("type")] = comments
    check(set(defined) == {"application/x-graft-project", "application/onnx"},
          "the MIME file defines application/x-graft-project and application/onnx",
          f"defined: {sorted(defined)}")
    for name, comments in sorted(defined.items()):
        check(None in comments and "fr" in comments,
              f"{name} has an English and a French comment",
              f"comments: {comments}\n(after editing po/fr.po, touch data/*.mime.xml.in: "
              "meson's i18n.merge_file does not depend on the .po files)")

    desktop = configparser.RawConfigParser(interpolation=None, strict=False)
    desktop.optionxform = str
    desktop.read(desktop_file, encoding="utf-8")
    entry = desktop["Desktop Entry"]
    listed = [t for t in entry.get("MimeType", "").split(";") if t]
    known_elsewhere = set()  # types Graft lists but does not define: none so far
    check(set(listed) == set(defined) | known_elsewhere,
          "the desktop file's MimeType lists exactly the types Graft defines",
          f"MimeType: {listed}; defined: {sorted(defined)}")
    exec_line = entry.get("Exec", "")
    check(any(code in exec_line.split() for code in ("%U", "%u", "%F", "%f")),
          "the desktop file's Exec takes the files it is given", f"Exec={exec_line}")

    with tempfile.TemporaryDirectory(prefix="graft-mime-") as tmp:
        share = os.path.join(tmp, "share")
        packages = os.path.join(share, "mime", "packages")
        applications = os.path.join(share, "applications")
        os.makedirs(packages)
        os.makedirs(applications)
        shutil.copy(base, packages)
        shutil.copy(mime_xml, os.path.join(packages, "io.github.graftlab.Graft.xml"))
        shutil.copy(desktop_file, applications)

        # GIO lists a desktop file only when its Exec program is on PATH: a stand-in.
        bin_dir = os.path.join(tmp, "bin")
        os.makedirs(bin_dir)
        with open(os.path.join(bin_dir, "graft"), "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(os.path.join(bin_dir, "graft"), 0o755)

        env = dict(os.environ)
        env.update({
            "PATH": bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "XDG_DATA_DIRS": share,
            "XDG_DATA_HOME": os.path.join(tmp, "user-data"),
            "XDG_CONFIG_HOME": os.path.join(tmp, "user-config"),
            "XDG_CONFIG_DIRS": os.path.join(tmp, "config"),
            "GIO_USE_VFS": "local",
        })

        out = subprocess.run(["update-mime-database", "-V", os.path.join(share, "mime")],
                             env=env, capture_output=True, text=True)
        complaints = [line for line in out.stderr.splitlines()
                      if "io.github.graftlab.Graft" in line or "x-graft-project" in line
                      or "onnx" in line or "warning" in line.lower()]
        check(out.returncode == 0 and not complaints,
              "update-mime-database takes the file without a warning",
              out.stderr.strip())

        work = os.path.join(tmp, "work")
        project = os.path.join(work, "Birds.graft")
        os.makedirs(os.path.join(project, "cache"))
        write_sqlite(os.path.join(project, "project.db"), GRAFT_APPLICATION_ID)
        write_sqlite(os.path.join(work, "other.db"), 0)
        with open(os.path.join(work, "model.onnx"), "wb") as f:
            # ir_version 8, producer_name "pytorch": how exported models begin.
            f.write(b"\x08\x08\x12\x07pytorch" + bytes(64))

        expected = [
            (os.path.join(project, "project.db"), "application/x-graft-project",
             "a project's project.db is a Graft project"),
            (os.path.join(work, "other.db"), "application/vnd.sqlite3",
             "another SQLite database stays an SQLite database"),
            (os.path.join(work, "model.onnx"), "application/onnx",
             "an .onnx file is an ONNX model"),
            (project, "inode/directory",
             "a .graft folder is a folder (file managers type folders by nothing else)"),
        ]
        for path, want, name in expected:
            got = content_type(env, path)
            check(got == want, name, f"{os.path.relpath(path, tmp)}: {got}, expected {want}")

        if shutil.which("update-desktop-database") is not None:
            subprocess.run(["update-desktop-database", applications], capture_output=True)
        for mime_type in sorted(defined):
            out = subprocess.run(["gio", "mime", mime_type], env=env, capture_output=True,
                                 text=True)
            check("io.github.graftlab.Graft.desktop" in out.stdout,
                  f"Graft is registered for {mime_type}", out.stdout + out.stderr)

    finish()


if __name__ == "__main__":
    main()
