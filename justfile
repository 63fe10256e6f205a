# ordertrail tasks. `just --list` shows them.

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/ordertrail/target")

# Load the fixture day into a fresh lake, run every stage, print a summary.
demo:
    cargo run --release -- demo

# Run the tests (what CI runs).
test:
    bash .ci/run

# Formatting and lints.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Rewrite the golden stage outputs after a reviewed change (say why in the commit).
bless:
    ORDERTRAIL_BLESS=1 cargo test --test main pipeline::stage_outputs_match_golden_files

# Regenerate the fixture CSVs from data-fixtures/make_fixtures.py.
fixtures:
    python3 data-fixtures/make_fixtures.py

# The stage DAG as derived from the SQL.
stages:
    cargo run --release -- stages

# Release benchmark of the whole pipeline (stages, checks, reports) on synthetic days under a
# 2G memory limit; results in bench/results.{md,json}. `just bench 100000 1000000`; default
# 100k, 1M and 10M orders. Generated days are cached in ~/.cache/ordertrail/bench/<N>.
bench *sizes:
    nice -n 10 python3 bench/run.py {{sizes}}
