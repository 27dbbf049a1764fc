"""Cost of the iMolCLR extras and of the momentum / clustering / CPC losses relative to one
MolCLR training step (the GIN step).

Times, at one batch size (default 512), forward + backward of:

- ``molclr step``: ``MolEncoder`` (default GIN) on two atom-masked views + NT-Xent;
- ``imolclr step``: the same + Tanimoto weights from the batch's ECFP bits (weighted NT-Xent) +
  ``0.5 *`` fragment NT-Xent over mean-pooled BRICS fragments (Wang et al. 2022);
- each loss alone on detached embeddings, and the two Tanimoto matrices alone;
- the momentum, clustering and CPC losses on detached projections (256-d), symmetrised over the two views as
  the objectives use them: BYOL (predictor MLP 256-512-256 + negative cosine), MoCo (InfoNCE
  against a 4096-row queue, plain and with Tanimoto weights against the queue's ECFP bits,
  plus the clone and enqueue), SwAV (3000 prototypes, Sinkhorn-Knopp, swapped prediction;
  Sinkhorn alone), CPC's InfoNCE (B predictions against B candidate latents);
- not losses but the other per-step costs of a momentum method: the EMA update of the GIN
  and the target network's forward over both views.

Usage::

    python benchmarks/loss.py [--batch-size 512] [--repeats 3] [--smiles FILE] [--device cpu]
                              [--clock wall|cpu]

``--clock cpu`` times with the process's CPU time (all threads) instead of wall time: on a CPU
shared with other jobs, wall time mostly measures waiting for a core, CPU time the work done.

Prints a table of median milliseconds (whole steps: ``--repeats`` runs in alternation; single
losses: ten times as many) and shares of the MolCLR step. On a shared CPU the whole-step
difference is noisy; the component sum is the steadier estimate of the extras.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from rdkit import Chem
from torch_geometric.data import Batch

from molssl.contrastive import (
    CPCLoss,
    FeatureQueue,
    MoCoLoss,
    MomentumNetwork,
    NegativeCosineLoss,
    PredictionHead,
    SwAVLoss,
    SwAVPrototypes,
    sinkhorn_knopp,
    tanimoto_similarity,
)
from molssl.contrastive.losses.fragment import FragmentContrastLoss
from molssl.contrastive.losses.ntxent import NTXentLoss, tanimoto_weights
from molssl.featurize import get_featurizer
from molssl.fingerprints import count_tanimoto_matrix, imolclr_count_fingerprint, tanimoto_matrix
from molssl.models import MolEncoder

try:
    from benchmarks._shared import pretrain_dir, run
except ModuleNotFoundError:  # run as a file: python benchmarks/loss.py
    from _shared import pretrain_dir, run

LAMBDA_1 = 0.5
LAMBDA_2 = 0.5
QUEUE_SIZE = 4096
PROTOTYPES = 3000


def read_smiles(path: Path, n: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[str] = []
    with opener(path, "rt") as handle:
        for line in handle:
            smiles = line.split()[0] if line.strip() else ""
            if smiles and smiles.lower() != "smiles" and Chem.MolFromSmiles(smiles) is not None:
                out.append(smiles)
            if len(out) == n:
                break
    return out


def mask_view(batch: Batch, mask_atom: tuple[int, ...], rate: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = batch.x.clone()
    hit = torch.rand(x.shape[0], generator=gen) < rate
    x[hit.to(x.device)] = torch.tensor(mask_atom, dtype=x.dtype, device=x.device)
    return x


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def timed(
    fn: Callable[[], object], repeats: int, device: torch.device, warmup: bool = True
) -> float:
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = clock()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(clock() - start)
    return 1e3 * statistics.median(times)


def interleaved(
    fns: list[tuple[str, Callable[[], object]]], repeats: int, device: torch.device
) -> list[tuple[str, float]]:
    """Median times of functions run in alternation, so load drift hits them alike."""
    times: dict[str, list[float]] = {name: [] for name, _ in fns}
    for _, fn in fns:
        fn()
    for _ in range(repeats):
        for name, fn in fns:
            times[name].append(timed(fn, 1, device, warmup=False))
    return [(name, statistics.median(values)) for name, values in times.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--smiles", type=Path, default=None, help="default: moses_train.smi.gz of the shared data"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.clock == "cpu" and device.type != "cpu":
        parser.error("--clock cpu measures CPU work; use the wall clock on a GPU")
    global clock
    clock = CLOCKS[args.clock]

    smiles = read_smiles(args.smiles or pretrain_dir() / "moses_train.smi.gz", args.batch_size)
    featurizer = get_featurizer("molclr", fingerprint=True, fragments=True)
    batch = Batch.from_data_list([featurizer(s) for s in smiles]).to(device)
    count_fps = [imolclr_count_fingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    count_keys = torch.cat(count_fps).to(device)
    count_num = torch.tensor([k.numel() for k in count_fps], device=device)
    x_a = mask_view(batch, featurizer.mask_atom, 0.25, seed=0)
    x_b = mask_view(batch, featurizer.mask_atom, 0.25, seed=1)

    model = MolEncoder().to(device).train()
    ntxent = NTXentLoss(temperature=0.1)
    frag_loss = FragmentContrastLoss(temperature=0.1)

    def head(emb: torch.Tensor) -> torch.Tensor:
        return model.out_lin(model.feat_lin(emb))

    def encode(x: torch.Tensor):  # noqa: ANN202
        return model(x, batch.edge_index, batch.edge_attr, batch.batch, batch.num_graphs)

    def molclr_step() -> None:
        model.zero_grad(set_to_none=True)
        out_a, out_b = encode(x_a), encode(x_b)
        ntxent(out_a.z, out_b.z).backward()

    def imolclr_step() -> None:
        model.zero_grad(set_to_none=True)
        out_a, out_b = encode(x_a), encode(x_b)
        weight = tanimoto_weights(tanimoto_matrix(batch.fp), LAMBDA_1)
        loss = ntxent(out_a.z, out_b.z, weight=weight)
        loss = loss + LAMBDA_2 * frag_loss(
            out_a.node, out_b.node, batch.frag, batch.num_frags, batch.batch, head=head
        )
        loss.backward()

    with torch.no_grad():
        ref = encode(x_a)
    z_a = ref.z.detach().clone().requires_grad_()
    z_b = ref.z.detach().clone().add_(0.1).requires_grad_()
    node_a = ref.node.detach().clone().requires_grad_()
    node_b = ref.node.detach().clone().add_(0.1).requires_grad_()

    rows: list[tuple[str, Callable[[], object]]] = [
        ("molclr step (2 views, NT-Xent)", molclr_step),
        ("imolclr step (+weights, +0.5*frag)", imolclr_step),
        ("NT-Xent", lambda: ntxent(z_a, z_b).backward()),
        (
            "weighted NT-Xent (+ECFP Tanimoto)",
            lambda: ntxent(
                z_a, z_b, weight=tanimoto_weights(tanimoto_matrix(batch.fp), LAMBDA_1)
            ).backward(),
        ),
        ("ECFP Tanimoto matrix only", lambda: tanimoto_matrix(batch.fp)),
        (
            "count Tanimoto matrix (iMolCLR exact)",
            lambda: count_tanimoto_matrix(count_keys, count_num),
        ),
        (
            "fragment loss (pool+head+NT-Xent)",
            lambda: frag_loss(
                node_a, node_b, batch.frag, batch.num_frags, batch.batch, head=head
            ).backward(),
        ),
    ]
    light, heavy = momentum_rows(model, batch, x_a, x_b, z_a, z_b, batch.fp, device)
    rows += light
    steps = interleaved(rows[:2] + heavy, args.repeats, device)
    results = steps + [(name, timed(fn, 10 * args.repeats, device)) for name, fn in rows[2:]]
    ms = dict(results)
    base = ms[rows[0][0]]
    n_frag = int(batch.num_frags.sum())
    print(
        f"batch {batch.num_graphs} molecules, {batch.num_nodes} atoms, {n_frag} fragments, "
        f"device {device}, threads {torch.get_num_threads()}, median of {args.repeats}, "
        f"{args.clock} clock"
    )
    print(f"{'component (forward + backward)':40s} {'ms':>10s} {'% of molclr step':>18s}")
    for name, value in sorted(results, key=lambda r: [n for n, _ in rows + heavy].index(r[0])):
        print(f"{name:40s} {value:10.1f} {100 * value / base:17.1f}%")
    step_overhead = 100 * (ms[rows[1][0]] - base) / base
    extras = ms[rows[3][0]] - ms[rows[2][0]] + ms[rows[6][0]]
    print(f"iMolCLR extras, whole steps compared: {step_overhead:+.1f}% (target < 20%)")
    print(
        f"iMolCLR extras, components (weighted - plain NT-Xent + fragment loss): {extras:.1f} ms "
        f"= +{100 * extras / base:.1f}%"
    )
    for name, target in TARGETS.items():
        share = 100 * ms[name] / base
        verdict = "met" if share < target else "NOT met"
        print(f"{name}: {share:.1f}% of the GIN step (target < {target}%: {verdict})")


TARGETS = {
    "BYOL predictor + negative cosine": 5.0,
    "MoCo InfoNCE vs queue (+clone, enqueue)": 5.0,
    "MoCo + Tanimoto weights vs queued ECFP": 5.0,
    "SwAV prototypes + Sinkhorn + swapped": 10.0,
    "CPC InfoNCE (B vs B latents)": 5.0,
}


def momentum_rows(
    model: MolEncoder,
    batch: Batch,
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    fp: torch.Tensor,
    device: torch.device,
) -> tuple[list[tuple[str, Callable[[], object]]], list[tuple[str, Callable[[], object]]]]:
    """Rows timing the BYOL, MoCo, SwAV and CPC losses (and momentum upkeep) on detached projections, and the
    target network's forward (a whole-model cost, timed in alternation with the steps)."""
    n, dim = z_a.shape
    gen = torch.Generator().manual_seed(0)
    predictor = PredictionHead(dim, 512, dim).to(device)
    byol = NegativeCosineLoss()
    t_a, t_b = z_b.detach() + 0.05, z_a.detach() - 0.05
    queue = FeatureQueue(QUEUE_SIZE, dim, extras={"fp": ((fp.shape[1],), torch.bool)}).to(device)
    for _ in range(QUEUE_SIZE // n):
        keys = torch.randn(n, dim, generator=gen).to(device)
        queue.enqueue(keys, fp=fp[torch.randperm(n, generator=gen).to(device)])
    moco = MoCoLoss(0.2)
    prototypes = SwAVPrototypes(dim, PROTOTYPES).to(device)
    swav = SwAVLoss()
    cpc = CPCLoss()
    cpc_targets = torch.randn(n, dim, generator=gen).to(device)
    positive = torch.arange(n, device=device)
    target_net = MomentumNetwork(model, 0.99)

    def byol_step() -> None:
        p = predictor(torch.cat([z_a, z_b]))
        (0.5 * (byol(p[:n], t_a) + byol(p[n:], t_b))).backward()

    def moco_step(weighted: bool) -> None:
        negatives = queue.features.clone()
        weight = None
        if weighted:
            weight = 1 - 0.5 * tanimoto_similarity(fp, queue.extra("fp"))
        loss = moco(z_a, t_a, negatives, weight=weight) + moco(z_b, t_b, negatives, weight=weight)
        queue.enqueue(t_a, fp=fp)
        (0.5 * loss).backward()

    def swav_step() -> None:
        swav([prototypes(z_a), prototypes(z_b)]).backward()

    def target_forward() -> None:
        for x in (x_a, x_b):
            target_net(x, batch.edge_index, batch.edge_attr, batch.batch, batch.num_graphs)

    light: list[tuple[str, Callable[[], object]]] = [
        ("BYOL predictor + negative cosine", byol_step),
        ("MoCo InfoNCE vs queue (+clone, enqueue)", lambda: moco_step(False)),
        ("MoCo + Tanimoto weights vs queued ECFP", lambda: moco_step(True)),
        ("SwAV prototypes + Sinkhorn + swapped", swav_step),
        ("SwAV Sinkhorn only (3 iterations)", lambda: sinkhorn_knopp(prototypes(z_a).detach())),
        ("CPC InfoNCE (B vs B latents)", lambda: cpc(z_a, cpc_targets, positive).backward()),
        ("EMA update of the GIN (momentum)", lambda: target_net.update(model, 1, 100)),
    ]
    return light, [("target GIN forward, 2 views, no grad", target_forward)]


if __name__ == "__main__":
    run(main)
