#!/usr/bin/env python3
"""po/POTFILES.in lists every file with translatable strings, and only files that exist.

    check-potfiles.py SOURCE_ROOT

Scans
  src/**/*.c, src/**/*.h   _("…"), N_("…"), C_(…), NC_(…), Q_("…"), ngettext, dngettext,
                           g_dngettext, g_dpgettext, g_dpgettext2, dgettext, g_dgettext
  ui/**/*.ui               translatable="yes"
  data/*.in                desktop files (Name, GenericName, Comment, Keywords), metainfo
                           and MIME XML (summary, p, li, caption, comment, name…)
  data/*.gschema.xml       summary, description
and fails naming each file that has translatable strings but is missing from
POTFILES.in, and each listed file that does not exist (xgettext would stop on it).
TAP output.
"""
import glob
import os
import re
import sys

from tap import check, finish

C_CALL = re.compile(
    r'(?<![A-Za-z0-9_])(?:_|N_|Q_)\s*\(\s*"'
    r'|(?<![A-Za-z0-9_])(?:C_|NC_)\s*\('
    r'|(?<![A-Za-z0-9_])(?:g_)?d?n?gettext\s*\('
    r'|(?<![A-Za-z0-9_])g_dpgettext2?\s*\('
    r'|(?<![A-Za-z0-9_])g_dngettext\s*\(')
UI_TRANSLATABLE = re.compile(r'translatable\s*=\s*"(?:yes|true|1)"', re.IGNORECASE)
DESKTOP_KEY = re.compile(r"^(?:Name|GenericName|Comment|Keywords)\s*=", re.MULTILINE)
XML_TRANSLATABLE = re.compile(
    r"<(summary|p|li|caption|comment|name|developer_name|keyword|description)(\s[^>]*)?>")
GSCHEMA = re.compile(r"<(summary|description)[\s>]")


def strip_c_comments(text):
    # Strings first, so that "/*" inside a string does not start a comment.
    pattern = re.compile(r'"(?:\\.|[^"\\])*"|/\*.*?\*/|//[^\n]*', re.DOTALL)
    return pattern.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


def has_strings(path):
    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError):
        return False
    if path.endswith((".c", ".h")):
        return C_CALL.search(strip_c_comments(text)) is not None
    if path.endswith(".ui"):
        return UI_TRANSLATABLE.search(text) is not None
    if path.endswith(".gschema.xml"):
        return GSCHEMA.search(text) is not None
    if path.endswith(".desktop.in"):
        return DESKTOP_KEY.search(text) is not None
    if path.endswith(".xml.in"):
        return any('translate="no"' not in (m.group(2) or "")
                   for m in XML_TRANSLATABLE.finditer(text))
    return False


def candidates(root):
    patterns = ["src/**/*.c", "src/**/*.h", "ui/**/*.ui", "data/*.in", "data/*.gschema.xml"]
    found = set()
    for pattern in patterns:
        for path in glob.glob(os.path.join(root, pattern), recursive=True):
            found.add(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(found)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    root = sys.argv[1]
    listed = []
    with open(os.path.join(root, "po", "POTFILES.in"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                listed.append(line)

    needed = [p for p in candidates(root) if has_strings(os.path.join(root, p))]
    missing = [p for p in needed if p not in listed]
    absent = [p for p in listed if not os.path.exists(os.path.join(root, p))]
    duplicated = sorted({p for p in listed if listed.count(p) > 1})

    check(not missing, f"POTFILES.in lists all {len(needed)} files with translatable strings",
          "missing from po/POTFILES.in:\n" + "\n".join(missing))
    check(not absent, "every file POTFILES.in lists exists", "listed but not found:\n" + "\n".join(absent))
    check(not duplicated, "no file is listed twice", "\n".join(duplicated))
    finish()


if __name__ == "__main__":
    main()
