# rsteller-db recipes. `just` lists them; `just build` runs the whole pipeline on the bundled sample.

set shell := ["bash", "-euo", "pipefail", "-c"]

sample := "warehouse/sample"
export_dir := "warehouse/export"

# list the recipes
default:
    @just --list

# sample -> init -> ingest -> stages -> captions -> pixels -> export -> dataset card
build backend="local":
    rsteller-db sample --out {{sample}}
    rsteller-db init
    rsteller-db ingest osm {{sample}}/town.osm.pbf
    rsteller-db ingest naip --source local {{sample}}
    rsteller-db build
    rsteller-db caption --backend {{backend}} --retry-rejected 2 --fallback template
    rsteller-db images fetch
    rsteller-db export --format wds --out {{export_dir}}
    rsteller-db export verify {{export_dir}}
    rsteller-db stats --out warehouse/card

# the test suite on pytest-xdist's workers, one per CPU, a test file per worker (installs
# Debian's chromium for the preview test when it is missing)
test *args: _chromium
    python -m pytest -q -n auto --dist loadfile {{args}}

_chromium:
    @command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed (needs root): the HTML preview test will be skipped"

# ruff over the code, tests and benchmarks
lint:
    ruff check rsteller_db tests bench

# every benchmark in bench/, each against its own baseline measured in the same run
bench:
    for f in bench/*.py; do echo "== $f"; python "$f"; done

# pin every dependency of `.[dev]` in requirements.lock, which the README's install commands
# and .ci/run read (run it after changing a dependency in pyproject.toml, then run the tests)
lock:
    uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.lock

# regenerate docs/cli.md from the commands' --help
docs:
    python -m rsteller_db.docgen > docs/cli.md

# remove everything generated under warehouse/
clean:
    find warehouse -mindepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +
