#!/usr/bin/env python3
"""A translation covers every string of the program.

    check-translation.py SOURCE_ROOT LANG

Extracts the strings of the files in po/POTFILES.in the way meson's i18n module does
(xgettext with the glib preset's keywords and gettext's ITS rules for GtkBuilder,
GSettings, AppStream and shared-mime-info files) into a temporary template, then
compares po/LANG.po with it (msgcmp): every string must have a translation that is
neither missing, empty nor fuzzy. Lists the first strings that are not translated.
Skips without xgettext or msgcmp. TAP output.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from tap import check, finish, skip

# meson's i18n 'glib' preset (mesonbuild/modules/i18n.py).
GLIB_PRESET = [
    "--from-code=UTF-8", "--add-comments",
    "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3",
    "--flag=N_:1:pass-c-format", "--flag=C_:2:pass-c-format", "--flag=NC_:2:pass-c-format",
    "--flag=g_dngettext:2:pass-c-format", "--flag=g_strdup_printf:1:c-format",
    "--flag=g_string_printf:2:c-format", "--flag=g_string_append_printf:2:c-format",
    "--flag=g_error_new:3:c-format", "--flag=g_set_error:4:c-format",
    "--flag=g_markup_printf_escaped:1:c-format", "--flag=g_log:3:c-format",
    "--flag=g_print:1:c-format", "--flag=g_printerr:1:c-format",
    "--flag=g_printf:1:c-format", "--flag=g_fprintf:2:c-format",
    "--flag=g_sprintf:2:c-format", "--flag=g_snprintf:3:c-format",
]


def describe(pot, message):
    """"graft.pot:67: this message is used but not defined…" -> where and which string.
    msgcmp gives the line of the entry's msgstr; its msgid is the last one before."""
    try:
        number = int(message[len(pot) + 1:].split(":", 1)[0])
    except ValueError:
        return message
    lines = open(pot, encoding="utf-8").read().splitlines()
    i = min(number - 1, len(lines) - 1)
    while i > 0 and not lines[i].startswith("msgid "):
        i -= 1
    text = lines[i][len("msgid "):].strip('"')
    j = i + 1
    while j < len(lines) and lines[j].startswith('"'):
        text += lines[j].strip('"')
        j += 1
    k = i - 1
    while k > 0 and lines[k].startswith("#") and not lines[k].startswith("#: "):
        k -= 1
    where = lines[k][3:].split()[0] if lines[k].startswith("#: ") else f"graft.pot:{number}"
    return f"{where}: \"{text[:100]}\""


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    root, lang = sys.argv[1:]
    for tool in ("xgettext", "msgcmp"):
        if shutil.which(tool) is None:
            skip(f"{tool} is missing")
    po = os.path.join(root, "po", lang + ".po")
    with tempfile.TemporaryDirectory(prefix="graft-pot-") as tmp:
        pot = os.path.join(tmp, "graft.pot")
        out = subprocess.run(["xgettext", "--package-name=graft", "-f", "po/POTFILES.in",
                              "-D", root, "-o", pot] + GLIB_PRESET,
                             cwd=root, capture_output=True, text=True)
        check(out.returncode == 0, "xgettext extracts the strings of POTFILES.in", out.stderr)
        if out.returncode == 0:
            total = sum(1 for line in open(pot, encoding="utf-8") if line.startswith("msgid ")) - 1
            cmp = subprocess.run(["msgcmp", po, pot], capture_output=True, text=True)
            missing = [describe(pot, line) for line in cmp.stderr.splitlines()
                       if line.startswith(pot + ":")]
            detail = (f"{len(missing)} of {total} strings have no {lang} translation "
                      f"(msgcmp {os.path.relpath(po, root)} graft.pot):\n"
                      + "\n".join(missing[:40])
                      + ("\n…" if len(missing) > 40 else ""))
            check(cmp.returncode == 0, f"po/{lang}.po translates all {total} strings", detail)
    finish()


if __name__ == "__main__":
    main()
