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

# Same stage SQL on DuckDB beside ordertrail (and MariaDB with MARIADB=--mariadb), rows compared.
# `just compare 100000`; the lake goes to out/compare/<orders>, figures to bench/compare-results.md.
compare orders="100000" date="2026-11-19" mariadb="":
    cargo build --release
    test -d out/compare/{{orders}}/raw || nice -n 10 $CARGO_TARGET_DIR/release/ordertrail gen --orders {{orders}} --date {{date}} --lake out/compare/{{orders}} --seed 1
    nice -n 10 python3 bench/compare.py --lake out/compare/{{orders}} --date {{date}} {{mariadb}} --results bench/compare-results.md

# Release benchmark of the whole pipeline (stages, checks, reports) on synthetic days under a
# 2G memory limit; results in bench/results.{md,json}. `just bench 100000 1000000`; default
# 100k, 1M and 10M orders. Generated days are cached in ~/.cache/ordertrail/bench/<N>.
bench *sizes:
    nice -n 10 python3 bench/run.py {{sizes}}

# Faults on a generated week (kills, SIGTERM, concurrent dates, deleted and corrupted
# partitions); counts silently wrong and divergent files. `just chaos 20 300`.
chaos trials="20" orders="300":
    cargo build --release
    python3 bench/chaos.py --trials {{trials}} --orders {{orders}}

# The real-time feed: sustained ingest of ~5M rows from JetStream and RabbitMQ (rows/s, peak
# RSS) and publish-to-landed latency at 10k messages/s. `just bench-feed 5000000 10000`.
bench-feed rows="5000000" rate="10000":
    cargo build --release
    python3 bench/feed.py --bin $CARGO_TARGET_DIR/release/ordertrail --rows {{rows}} --rate {{rate}}

# A generated day on a Ballista cluster of one and two executors beside a local run (release,
# --features cluster); figures to bench/cluster-results.md. `just cluster-bench 1000000 4G`.
cluster-bench orders="100000" memory="4G":
    cargo build --release --features cluster
    python3 bench/cluster.py --orders {{orders}} --memory-limit {{memory}}
