#!/usr/bin/env bash
# The long measurements behind benchmarks/RESULTS.md (Hu et al.'s protocol, the pretext
# comparison, uncertainty, search, budget curve, MoleculeNet quick and full protocol), for one of
# two single-thread processes at low priority that share the committed ledgers under
# benchmarks/ledgers/ (cells are claimed while they run; finished cells, rows, snapshots and
# search trials are skipped; the two split a per-target cell of the full protocol, such as
# SIDER's 27 models, target by target). Open: Hu et al.'s protocol (part a, first) and the
# pretext comparison (part b, first; its pretraining runs resume from PRETEXT_WORK, default
# runs/budget_curve, at the last 50-step checkpoint). The later steps have finished in the
# committed ledgers: they reproduce them into ledger folders moved aside or deleted, or extend
# them after a change of settings (new cells). Run with:
#
#     nohup benchmarks/run_pending.sh a > runs/pending_a.log 2>&1 &
#     nohup benchmarks/run_pending.sh b > runs/pending_b.log 2>&1 &
#
# Run it from the repository root (the scripts name our snapshots by paths relative to it); the
# scripts find the shared data through benchmarks/_shared.py (MOLSSL_SHARED_DATA, then
# MOLSSL_DATA_DIR, then ../shared/data). Only process b pretrains (the 1M-pass
# snapshots of the budget curve, about 2 h per objective on one thread), so the two never write
# one run folder. Stop a queue by killing its bash first (`kill PID` of that bash; the
# running step finishes or is killed on its own), never by editing this file or the package
# under a running queue: a lazily imported module changed on disk breaks the running step.
# `--dry-run` prints the commands. Commit the ledgers as they grow.
set -euo pipefail

part="${1:-}"
dry=""
[ "${2:-}" = "--dry-run" ] && dry=1
if [ "$part" != a ] && [ "$part" != b ]; then
    echo "usage: benchmarks/run_pending.sh a|b [--dry-run]" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
python="${PYTHON:-.venv/bin/python}"

step() {
    echo "[$(date -u +%FT%TZ)] $*"
    [ -n "$dry" ] && return 0
    local rc=0
    nice -n 19 "$python" "$@" || rc=$?
    [ "$rc" -eq 0 ] || echo "[$(date -u +%FT%TZ)] failed (exit $rc): $*"
}

pretext_work="${PRETEXT_WORK:-runs/budget_curve}"

if [ "$part" = a ]; then
    # Hu et al. 2020's fine-tuning on six datasets (HIV and MUV: add them to --tasks)
    step benchmarks/hu2020.py --tasks bbbp,bace,clintox,sider,tox21,toxcast --threads 1
    # uncertainty (ESOL, FreeSolv, Lipophilicity), then half of the search
    step benchmarks/uncertainty.py --seeds 0,1,2 --members 3 --out benchmarks/ledgers/uncertainty
    step benchmarks/search.py --tasks esol,freesolv --out benchmarks/ledgers/search
    # then BACE's studies in the other order than b's: each (task, method) study runs in one
    # process (the other waits on its lock and reuses it), so the two rarely wait on each other
    step benchmarks/search.py --tasks bace --methods pretrained,ecfp-rf,random-init \
        --out benchmarks/ledgers/search
    # budget-curve cells that need no new pretraining (budget 0, 10k, 100k; SIDER)
    step benchmarks/budget_curve.py --budgets 0,10000,100000 --workers 1
    # the 14-task quick ledger, the methods that need no new checkpoint
    step benchmarks/moleculenet.py --methods random-init,ecfp-rf,molclr-gcn,chemprop
    step benchmarks/moleculenet.py --full-protocol
    step benchmarks/moleculenet.py
else
    # the pretext comparison at 1M passes, one objective per call, each pretrained then its cells
    for objective in imolclr imolclr+descriptors@0.5 imolclr+attrmask descriptors attrmask molclr; do
        step benchmarks/budget_curve.py --schedule cosine --budgets 0,1000000 \
            --corpus-size 200000 --objectives "$objective" --work "$pretext_work" --workers 1
    done
    step benchmarks/search.py --tasks bbbp,bace --out benchmarks/ledgers/search
    step benchmarks/budget_curve.py --budgets 0,10000,100000 --workers 1
    # the 1M-pass snapshots (builds the MOSES store first on a new machine, 10-30 min). runs/ is
    # not in git: a snapshot copied into benchmarks/snapshots/ (ignored) is used where runs/ has none, and
    # a budget whose cells the ledger already holds on every task and seed is not pretrained
    # again, so on a new machine these steps pretrain only what pending cells need
    step benchmarks/budget_curve.py --objectives molclr --pretrain-only --workers 1
    step benchmarks/budget_curve.py --objectives molclr --workers 1
    step benchmarks/moleculenet.py --methods ours-molclr
    step benchmarks/budget_curve.py --objectives imolclr --pretrain-only --workers 1
    step benchmarks/budget_curve.py --objectives imolclr --workers 1
    step benchmarks/moleculenet.py --methods ours-imolclr
    step benchmarks/budget_curve.py --workers 1
    step benchmarks/moleculenet.py
    step benchmarks/moleculenet.py --full-protocol
fi
echo "[$(date -u +%FT%TZ)] part $part: nothing left"
