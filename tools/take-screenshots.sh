#!/bin/sh
# Regenerates data/screenshots/*.png, the screenshots of the AppStream metainfo, from
# the real app (tools/take-screenshots.c): the sample project, the window at
# 1000 × 700, light style, English.
#
#   tools/take-screenshots.sh [BUILD_DIR [OUTPUT_DIR]] [-- take-screenshots options]
#
# BUILD_DIR defaults to ./build (made with `meson setup build` if missing), OUTPUT_DIR
# to data/screenshots. Needs xvfb-run and dbus-run-session (Debian: xvfb, dbus).
# Arguments after "--" go to take-screenshots (page names, --dark, --strategy NAME);
# without any, it takes the pages the metainfo shows: data, model, schedule, train and
# results. With options but no page name it takes every page and the start screen.
# Look at every
# picture before committing it: the metainfo links them at the release tag, so take
# them again before tagging, and `meson test check-screenshots` says whether each
# linked file is there and fits. Training the sample takes a minute or two.
set -eu

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$source_dir/build}
[ $# -gt 0 ] && shift
output_dir=${1:-$source_dir/data/screenshots}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ $# -eq 0 ] && set -- data model schedule train results

for tool in xvfb-run dbus-run-session; do
  command -v "$tool" >/dev/null || { echo "take-screenshots.sh: $tool is missing" >&2; exit 1; }
done
[ -d "$build_dir" ] || meson setup "$build_dir" "$source_dir"
ninja -C "$build_dir" tools/take-screenshots data/gschemas.compiled po/fr/LC_MESSAGES/graft.mo >/dev/null

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM

# A fresh home, so that no recent project or sample made earlier shows; the memory
# settings backend, so the window size is the one asked for; English; GTK's Cairo
# renderer and no animations, for the same pixels every time.
env -u LANGUAGE -u LC_ALL -u LC_MESSAGES LANG=C.UTF-8 \
  HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config" \
  XDG_CACHE_HOME="$scratch/cache" XDG_STATE_HOME="$scratch/state" \
  GSETTINGS_BACKEND=memory GSK_RENDERER=cairo GTK_A11Y=none NO_AT_BRIDGE=1 \
  xvfb-run -a -s "-screen 0 1400x900x24" \
  dbus-run-session -- "$build_dir/tools/take-screenshots" --output "$output_dir" "$@"

# Flathub: at most 1000 × 700 (the window is that size already; this only checks).
if command -v identify >/dev/null; then
  for png in "$output_dir"/*.png; do
    size=$(identify -format '%w %h' "$png")
    set -- $size
    if [ "$1" -gt 1000 ] || [ "$2" -gt 700 ]; then
      echo "take-screenshots.sh: $png is $1 × $2, more than 1000 × 700" >&2
      exit 1
    fi
  done
fi
