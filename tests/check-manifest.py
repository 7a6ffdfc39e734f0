#!/usr/bin/env python3
"""The Flatpak manifest, checked offline.

    check-manifest.py SOURCE_ROOT

flatpak/io.github.graftlab.Graft.json:
- is strict JSON, and `flatpak-builder --show-manifest` reads it without a warning
  (an unknown key is only a warning there, so warnings fail here) — skipped when
  flatpak-builder is not installed;
- is for io.github.graftlab.Graft on org.gnome.Platform / org.gnome.Sdk, runs graft,
  and asks for exactly the permissions the app needs (no file system access: files
  go through the portals);
- pins every source: an archive or file by sha256 over https, a git source by
  commit; local sources (type dir, or a path) are the repository itself;
- builds OpenBLAS for a fixed TARGET on every architecture together with
  DYNAMIC_ARCH (without TARGET the common code is compiled for the builder's CPU),
  with NUM_THREADS, NO_LAPACK, CBLAS and USE_OPENMP=1 (OpenBLAS then runs its GEMMs
  on libgomp's threads, the pool the engine's own loops use: with its pthreads
  server, its workers spun in sched_yield beside the engine's OpenMP threads, 37-40 %
  of all CPU time of a training step; see src/engine/parallel.h), oneDNN (the
  engine's backend on x86-64) on the same OpenMP runtime and without a GPU runtime,
  and protobuf-c without protoc;
- installs the licence of every bundled library under /app/share/licenses;
- passes Graft's own meson options, each of which exists in meson_options.txt, and
  sets every option there explicitly (a new option needs a decision for the Flatpak).
TAP output.
"""
import json
import os
import re
import shutil
import subprocess
import sys

from tap import check, finish, skip_one

APP_ID = "io.github.graftlab.Graft"
FINISH_ARGS = {"--share=ipc", "--socket=wayland", "--socket=fallback-x11", "--device=dri",
               "--share=network"}
# Meson's own options a manifest may pass besides the project's.
MESON_BUILTINS = {"buildtype", "optimization", "debug", "b_lto", "b_ndebug", "b_pie",
                  "b_sanitize", "warning_level", "werror", "default_library", "prefix",
                  "libdir", "c_args", "c_link_args", "wrap_mode"}


def project_options(source_root):
    path = os.path.join(source_root, "meson_options.txt")
    if not os.path.exists(path):
        path = os.path.join(source_root, "meson.options")
    if not os.path.exists(path):
        return set()
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"#.*", "", text)
    return set(re.findall(r"option\s*\(\s*'([^']+)'", text))


def meson_option_names(config_opts):
    names = []
    for opt in config_opts:
        m = re.match(r"^(?:-D\s*|--)([A-Za-z0-9_.:-]+)(?:=.*)?$", opt)
        if m:
            names.append(m.group(1).replace("-", "_") if opt.startswith("--") else m.group(1))
    return names


def all_modules(modules):
    for module in modules:
        if isinstance(module, dict):
            yield module
            yield from all_modules(module.get("modules", []))


def env_for(module, arch):
    options = module.get("build-options", {})
    env = dict(options.get("env", {}))
    env.update(options.get("arch", {}).get(arch, {}).get("env", {}))
    return env


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    source_root = sys.argv[1]
    manifest_path = os.path.join(source_root, "flatpak", APP_ID + ".json")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        check(True, "the manifest is strict JSON")
    except (OSError, ValueError) as e:
        check(False, "the manifest is strict JSON", str(e))
        finish()

    builder = shutil.which("flatpak-builder")
    if builder is None:
        skip_one("flatpak-builder --show-manifest", "flatpak-builder is missing")
    else:
        out = subprocess.run([builder, "--show-manifest", manifest_path],
                             capture_output=True, text=True)
        warnings = [line for line in out.stderr.splitlines() if line.strip()]
        check(out.returncode == 0 and not warnings,
              "flatpak-builder --show-manifest reads it without a warning",
              out.stderr.strip())

    check(manifest.get("id") == APP_ID, f"the id is {APP_ID}", manifest.get("id"))
    check(manifest.get("runtime") == "org.gnome.Platform"
          and manifest.get("sdk") == "org.gnome.Sdk",
          "the GNOME runtime and SDK", f"{manifest.get('runtime')} / {manifest.get('sdk')}")
    check(isinstance(manifest.get("runtime-version"), str)
          and re.fullmatch(r"\d+", manifest.get("runtime-version", "")),
          "a released GNOME runtime version", manifest.get("runtime-version"))
    check(manifest.get("command") == "graft", "the command is graft", manifest.get("command"))
    finish_args = manifest.get("finish-args", [])
    check(set(finish_args) == FINISH_ARGS and len(finish_args) == len(FINISH_ARGS),
          "finish-args are exactly " + " ".join(sorted(FINISH_ARGS)),
          f"extra: {sorted(set(finish_args) - FINISH_ARGS)}; "
          f"missing: {sorted(FINISH_ARGS - set(finish_args))}")

    modules = list(all_modules(manifest.get("modules", [])))
    by_name = {m.get("name"): m for m in modules}

    for module in modules:
        for n, source in enumerate(module.get("sources", []), 1):
            if isinstance(source, str):
                check(False, f"{module.get('name')}: source {n} is inline", source)
                continue
            kind = source.get("type")
            where = f"{module.get('name')}: source {n} ({kind})"
            if kind == "dir" or ("path" in source and "url" not in source):
                check(kind == "dir" or os.path.exists(os.path.join(os.path.dirname(manifest_path),
                                                                   source["path"])),
                      f"{where} is local")
            elif kind in ("archive", "file", "extra-data"):
                check(re.fullmatch(r"[0-9a-f]{64}", source.get("sha256", "")),
                      f"{where} has a sha256", json.dumps(source))
                check(source.get("url", "").startswith("https://"),
                      f"{where} is fetched over https", source.get("url"))
            elif kind in ("git", "bzr", "svn"):
                check(re.fullmatch(r"[0-9a-f]{40}", source.get("commit", "")),
                      f"{where} is pinned to a commit", json.dumps(source))
            else:
                check(False, f"{where}: a source type this check does not know", json.dumps(source))

    # The project itself, from this tree.
    graft = by_name.get("graft")
    check(graft is not None and modules and modules[-1] is graft, "Graft is the last module")
    if graft is not None:
        check(graft.get("buildsystem") == "meson", "Graft builds with meson")
        dirs = [s for s in graft.get("sources", []) if isinstance(s, dict) and s.get("type") == "dir"]
        root = (os.path.normpath(os.path.join(os.path.dirname(manifest_path), dirs[0]["path"]))
                if dirs else None)
        check(root is not None and os.path.samefile(root, source_root),
              "Graft's source is this repository (type dir)", f"{root}")
        options = project_options(source_root)
        passed = meson_option_names(graft.get("config-opts", []))
        unknown = [o for o in passed if o not in options and o not in MESON_BUILTINS]
        check(not unknown, "every meson option the manifest passes exists",
              f"not in meson_options.txt: {unknown}")
        unset = sorted(options - set(passed))
        check(not unset, "every option in meson_options.txt is set in the manifest",
              f"not set: {unset}")

    openblas = by_name.get("openblas")
    check(openblas is not None, "OpenBLAS is bundled")
    if openblas is not None:
        for arch, target in (("x86_64", "GENERIC"), ("aarch64", "ARMV8")):
            env = env_for(openblas, arch)
            check(env.get("TARGET") == target, f"OpenBLAS: TARGET={target} on {arch}",
                  f"TARGET={env.get('TARGET')}")
            check(env.get("DYNAMIC_ARCH") == "1", f"OpenBLAS: DYNAMIC_ARCH=1 on {arch}")
            check(env.get("NUM_THREADS", "").isdigit() and int(env["NUM_THREADS"]) >= 16,
                  f"OpenBLAS: NUM_THREADS fixed on {arch} (not the builder's core count)",
                  f"NUM_THREADS={env.get('NUM_THREADS')}")
            check(env.get("NO_LAPACK") == "1", f"OpenBLAS: NO_LAPACK=1 on {arch}")
            check(env.get("NO_CBLAS", "0") == "0", f"OpenBLAS: CBLAS kept on {arch}")
            check(env.get("USE_OPENMP") == "1", f"OpenBLAS: OpenMP, the engine's thread pool, on {arch}",
                  f"USE_OPENMP={env.get('USE_OPENMP')}")

    # oneDNN (the engine's backend on x86-64) on OpenMP, the same pool as OpenBLAS and
    # the engine: its own threading runtime would be a second pool spinning beside it.
    onednn = by_name.get("onednn")
    check(onednn is not None, "oneDNN is bundled")
    if onednn is not None:
        opts = onednn.get("config-opts", [])
        check("-DDNNL_CPU_RUNTIME=OMP" in opts, "oneDNN: OpenMP, the engine's thread pool",
              f"config-opts: {opts}")
        check("-DDNNL_GPU_RUNTIME=NONE" in opts, "oneDNN: no GPU runtime (no OpenCL to bundle)",
              f"config-opts: {opts}")

    protobuf = by_name.get("protobuf-c")
    check(protobuf is not None and "--disable-protoc" in protobuf.get("config-opts", []),
          "protobuf-c is bundled without protoc")

    for module in modules:
        if module is graft:
            continue
        commands = " ".join(module.get("build-commands", []) + module.get("post-install", []))
        check(re.search(r"/app/share/licenses/", commands),
              f"{module.get('name')}: its licence is installed under /app/share/licenses")

    finish()


if __name__ == "__main__":
    main()
