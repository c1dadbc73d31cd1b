#!/bin/bash
# simulate_basic.sh: `khorgos simulate` on a small default day (scale 0.05) writes the three
# outputs, well formed: metrics.json parses and has every design x a x currency run and every
# country; payments.csv has its header and one row per payment and run, sorted by design (the
# issue's order), a, then submission; report.html is one self-contained file with its charts.
# Three seeds: every run per seed (with its seed), and a summary with intervals per design, a,
# currency and metric, whose bounds hold the mean and whose mean is the seeds' average.
# The default day holds trade and interbank payments; trade-only the same trade rows alone.
# Then the same run with --data (a data directory per run) gives the same metrics and a directory
# that `khorgos check` passes; and an operator's CSV day: a bad row is reported by line and
# skipped, or refused by --strict.
set -euo pipefail
KHORGOS=${KHORGOS:-build/khorgos}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$KHORGOS" simulate --scale 0.05 --seed 4 --seeds 3 --out "$out/day" >"$out/summary.txt"
cat "$out/summary.txt"
for file in metrics.json payments.csv participants.csv report.html; do
    test -s "$out/day/$file"
done
grep -q "^report: $out/day/report.html" "$out/summary.txt"
for design in rtgs_no_queue rtgs_fifo rtgs_lsm dns_hourly usd_vehicle; do
    grep -q "^$design " "$out/summary.txt"
done

python3 - "$out/day" <<'PYTHON'
import csv, json, sys
directory = sys.argv[1]
designs = ["rtgs_no_queue", "rtgs_fifo", "rtgs_lsm", "dns_hourly", "usd_vehicle"]
alphas = [0, 0.25, 0.5, 0.75, 1]
metrics = json.load(open(directory + "/metrics.json"))
runs = metrics["runs"]
currencies = sorted({run["currency"] for run in runs})
assert len(currencies) == 8, currencies
assert metrics["seed"] == 4 and metrics["seeds"] == 3, metrics["seed"]
assert len(runs) == 3 * len(designs) * len(alphas) * len(currencies), len(runs)
assert [run["seed"] for run in runs] == sorted(run["seed"] for run in runs), "seeds in order"
assert {run["seed"] for run in runs} == {4, 5, 6}
summary = metrics["summary"]
metric_names = ["liquidity_used", "upper_bound", "lower_bound", "delay_indicator",
                "settlement_ratio_value", "settlement_ratio_count", "gridlocks_resolved",
                "fx_converted", "rejected_value", "offset_value_share", "liquidity_cost",
                "delay_cost"]
assert len(summary) == len(designs) * len(alphas) * (len(currencies) + 1) * len(metric_names)
for entry in summary:
    assert set(entry) == {"design", "a", "currency", "metric", "mean", "ci95_low", "ci95_high",
                          "n"}, entry
    assert entry["n"] == 3 and entry["metric"] in metric_names, entry
    assert entry["ci95_low"] <= entry["mean"] + 1e-9 <= entry["ci95_high"] + 2e-9, entry
    if entry["currency"] != "all" and entry["metric"] == "delay_indicator":
        values = [run["delay_indicator"] for run in runs if run["design"] == entry["design"]
                  and run["a"] == entry["a"] and run["currency"] == entry["currency"]]
        assert len(values) == 3 and abs(sum(values) / 3 - entry["mean"]) < 2e-6, (entry, values)
fields = ["design", "a", "currency", "upper_bound", "lower_bound", "liquidity_used",
          "delay_indicator", "settlement_ratio_value", "settlement_ratio_count",
          "queue_max_count", "queue_max_value", "gridlocks_resolved", "fx_converted"]
for run in runs:
    for field in fields:
        assert field in run, (field, run)
    assert run["design"] in designs and run["a"] in alphas, run
    for field in ["upper_bound", "lower_bound", "liquidity_used", "queue_max_value",
                  "fx_converted"]:
        assert isinstance(run[field], str) and float(run[field]) >= 0, (field, run)
    for field in ["delay_indicator", "settlement_ratio_value", "settlement_ratio_count"]:
        assert isinstance(run[field], (int, float)) and 0 <= run[field] <= 1, (field, run)
    assert float(run["lower_bound"]) <= float(run["upper_bound"]), run
    if run["design"] != "dns_hourly" and run["a"] == 1:
        assert run["delay_indicator"] == 0 and run["settlement_ratio_count"] == 1, run
countries = metrics["countries"]
assert len(countries) >= 3 * len(designs) * len(alphas) * 7, len(countries)
assert all(country["seed"] in (4, 5, 6) for country in countries)
for country in countries:
    assert float(country["liquidity_needed_usd"]) >= 0, country

rows = list(csv.reader(open(directory + "/payments.csv")))
assert rows[0] == ["design", "a", "id", "debtor", "creditor", "currency", "amount",
                   "creditor_currency", "creditor_amount", "priority", "submitted_at",
                   "settled_at", "status", "reason", "reason_iso", "kind"], rows[0]
rows = rows[1:]
count = metrics["payment_count"]
assert len(rows) == count * len(designs) * len(alphas), (len(rows), count)
# The default day: trade invoices and interbank payments of every kind.
assert {row[15] for row in rows} == {"trade", "money_market", "fx", "securities", "other"}
keys = [(designs.index(row[0]), float(row[1]), int(row[10])) for row in rows]
assert keys == sorted(keys), "payments.csv is sorted by design, a, submission"
for row in rows:
    assert row[12] in ("settled", "rejected", "cancelled"), row
    assert (row[11] == "") == (row[12] != "settled"), row
    assert (row[13] == "") == (row[12] == "settled") and (row[14] == "") == (row[13] == ""), row
    assert row[15] in ("trade", "money_market", "fx", "securities", "other"), row
    if row[14]:
        assert len(row[14]) == 4 and row[14].isalnum() and row[14].isupper(), row
    if row[11]:
        assert int(row[11]) >= int(row[10]), row

participants = list(csv.DictReader(open(directory + "/participants.csv")))
assert {row["seed"] for row in participants} == {"4", "5", "6"}
assert {row["role"] for row in participants} <= {"bank", "liquidity_provider",
                                                  "settlement_agent"}
for row in participants:
    assert float(row["lower_bound"]) <= float(row["liquidity_start"]) <= float(row["upper_bound"])
    assert float(row["value_rejected"]) <= float(row["submitted_value"]), row
    assert row["credit_used"] == "0.00", row
for run in runs:
    for field in ["liquidity_used_banks_home", "liquidity_used_banks_foreign",
                  "liquidity_used_providers"]:
        assert float(run[field]) >= 0, (field, run)
    split = sum(float(run[field]) for field in ["liquidity_used_banks_home",
                "liquidity_used_banks_foreign", "liquidity_used_providers"])
    assert abs(split - float(run["liquidity_used"])) < 0.01, run
    assert run["delay_p50_seconds"] <= run["delay_p95_seconds"] <= run["delay_max_seconds"], run
    assert 0 <= run["offset_value_share"] <= 1, run
    assert run["rejected_count"] == run["submitted_count"] - run["settled_count"], run

html = open(directory + "/report.html").read()
assert html.lstrip().lower().startswith("<!doctype html"), html[:40]
assert html.count("<svg") >= 3, "the charts"
assert "<script" not in html and "src=\"http" not in html and "href=\"http" not in html
print("well formed:", len(runs), "runs,", len(rows), "payment rows")
PYTHON

# The same seed gives the same bytes from the command too.
"$KHORGOS" simulate --scale 0.05 --seeds 3 --designs rtgs_fifo,rtgs_lsm --a 0,1 --out "$out/one" \
    >/dev/null
"$KHORGOS" simulate --scale 0.05 --seeds 3 --designs rtgs_lsm,rtgs_fifo --a 0,1 --out "$out/two" \
    >/dev/null
cmp "$out/one/metrics.json" "$out/two/metrics.json"
cmp "$out/one/payments.csv" "$out/two/payments.csv"

# With --data each run is a data directory: the same results, and the directory checks.
"$KHORGOS" simulate --scale 0.05 --seeds 1 --designs rtgs_lsm --a 0 --out "$out/memory" >/dev/null
"$KHORGOS" simulate --scale 0.05 --seeds 1 --designs rtgs_lsm --a 0 --data "$out/data" \
    --out "$out/disk" >/dev/null
cmp "$out/memory/metrics.json" "$out/disk/metrics.json"
"$KHORGOS" check --data "$out/data/rtgs_lsm-a0-seed1" | grep -q "check: ok"

# An operator's day: line 3 is bad (a negative amount): reported and skipped, or refused.
cat >"$out/day.csv" <<'CSV'
id,debtor,creditor,currency,amount,creditor_currency,submitted_at
1,BKAAKZKAXXX,BKAACNBJXXX,CNY,125000.00,,3600
2,BKAAKZKAXXX,BKAACNBJXXX,CNY,-5,,3700
3,BKABUZTAXXX,BKAARUMMXXX,UZS,950000000.00,RUB,3725
CSV
"$KHORGOS" simulate --payments "$out/day.csv" --a 0,1 --out "$out/csv" >"$out/csv.txt" 2>"$out/csv.err"
cat "$out/csv.err"
grep -q "day.csv:3:" "$out/csv.err"
grep -q ": 2 payments," "$out/csv.txt"
test "$(grep -c '^rtgs_lsm,1,' "$out/csv/payments.csv")" = 2
test "$(grep -c ',other$' "$out/csv/payments.csv")" = 20  # no kind column: other; 2 x 10 runs
# The built-in scenario by name (default, or its synonym interbank) is the default day, and so
# is the example file of the same scenario (a file's days get the interbank layer too).
for name in default interbank examples/default-scenario.txt; do
    "$KHORGOS" simulate --scenario $name --scale 0.05 --seeds 1 --designs rtgs_lsm --a 0 \
        --out "$out/named" >/dev/null
    cmp "$out/memory/metrics.json" "$out/named/metrics.json"
done
# trade-only: the trade invoices alone, the same ones as in the default day.
"$KHORGOS" simulate --scenario trade-only --scale 0.05 --seeds 1 --designs rtgs_lsm --a 0 \
    --out "$out/trade" >/dev/null
test "$(cut -d, -f16 "$out/trade/payments.csv" | sort -u | tr '\n' ' ')" = "kind trade "
cut -d, -f4-8,11,16 "$out/trade/payments.csv" | sed 1d >"$out/trade.rows"
grep ',trade$' "$out/memory/payments.csv" | cut -d, -f4-8,11,16 | cmp - "$out/trade.rows"
status=0
"$KHORGOS" simulate --payments "$out/day.csv" --strict --out "$out/strict" 2>/dev/null || status=$?
test "$status" = 2
status=0
"$KHORGOS" simulate --a 0.5,0.25 --out "$out/bad" 2>/dev/null || status=$?
test "$status" = 2
status=0
"$KHORGOS" simulate --payments "$out/day.csv" --seeds 2 --out "$out/bad" 2>/dev/null || status=$?
test "$status" = 2
echo "simulate_basic: ok"
