"""TAP output for the Python checks that meson runs (protocol: 'tap')."""
import sys

results = []


def check(ok, name, detail=""):
    """Records one test: ok or not, its name, and what to print when it fails."""
    results.append((bool(ok), name, detail))


def skip_one(name, reason):
    """Records one test as skipped, with the reason."""
    results.append((True, f"{name} # SKIP {reason}", ""))


def skip(reason):
    """Skips the whole script."""
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


def finish():
    """Prints the plan and every result, and exits 1 when one failed."""
    print(f"1..{len(results)}")
    failed = 0
    for i, (ok, name, detail) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines():
                print(f"# {line}")
    sys.exit(1 if failed else 0)
