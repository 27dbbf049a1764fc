"""Pretext objectives against plain references: attribute masking, descriptor regression."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors
from torch_geometric.data import Batch

from molssl.data import embedded_smiles_path
from molssl.featurize import MolGraphFeaturizer
from molssl.featurize.descriptors import DESCRIPTOR_NAMES, compute_descriptors
from molssl.models import MolEncoder
from molssl.objectives import MoCoConfig, ObjectiveConfig, build_objective
from molssl.objectives.pretext import attrmask_selection, masked_mse, robust_scaler

SMILES = ["CCO", "c1ccccc1O", "C", "CC(=O)N[C@@H](C)C(=O)O", "[Na+].[Cl-]", "C1CC1C#N"]


def _tiny_encoder() -> MolEncoder:
    torch.manual_seed(0)
    return MolEncoder(num_layers=2, hidden_channels=16, out_channels=16, proj_dim=8)


def test_attrmask_selection_masks_rounded_rate_and_at_least_one_atom() -> None:
    batch = torch.tensor([0] * 20 + [1] * 1 + [2] * 7)
    masked = attrmask_selection(batch, 3, 0.15, torch.Generator().manual_seed(1))
    per_graph = torch.bincount(batch[masked], minlength=3).tolist()
    assert per_graph == [3, 1, 1]  # round(0.15 * 20), at least one, round(1.05)
    again = attrmask_selection(batch, 3, 0.15, torch.Generator().manual_seed(1))
    assert torch.equal(masked, again)
    other = attrmask_selection(batch, 3, 0.15, torch.Generator().manual_seed(2))
    assert not torch.equal(masked, other)


def test_attrmask_loss_equals_cross_entropy_by_hand() -> None:
    featurizer = MolGraphFeaturizer()
    batch = Batch.from_data_list([featurizer(s) for s in SMILES])
    objective = build_objective(
        ObjectiveConfig(name="attrmask"),
        mask_atom=featurizer.mask_atom,
        mask_bond=featurizer.self_loop_bond,
    )
    encoder = _tiny_encoder()
    model = objective.build_model(encoder)
    model.eval()  # BatchNorm statistics fixed, so the two forwards agree exactly
    loss, metrics = objective(model, batch, torch.Generator().manual_seed(3))

    masked = attrmask_selection(
        batch.batch, batch.num_graphs, 0.15, torch.Generator().manual_seed(3)
    )
    x, edge_attr = batch.x.clone(), batch.edge_attr.clone()
    edges = []
    for i in range(x.shape[0]):
        if masked[i]:
            x[i] = torch.tensor(featurizer.mask_atom)
    for e in range(batch.edge_index.shape[1]):
        u, v = batch.edge_index[:, e].tolist()
        if masked[u] or masked[v]:
            edge_attr[e] = torch.tensor(featurizer.self_loop_bond)
            if u < v:
                edges.append((u, v, int(batch.edge_attr[e, 0])))
    head = model.heads["attrmask"]
    with torch.no_grad():
        node = encoder.encode_nodes(x, batch.edge_index, edge_attr)
        atom_terms = [
            -torch.log_softmax(head.atom(node[i]), -1)[int(batch.x[i, 0])]
            for i in range(x.shape[0])
            if masked[i]
        ]
        bond_terms = [-torch.log_softmax(head.bond(node[u] + node[v]), -1)[t] for u, v, t in edges]
    expected = sum(atom_terms) / len(atom_terms) + sum(bond_terms) / len(bond_terms)
    assert len(edges) > 0 and math.isclose(float(loss.detach()), float(expected), rel_tol=1e-5)
    assert metrics["attrmask_atom_loss"] == pytest.approx(float(sum(atom_terms) / len(atom_terms)))
    assert torch.equal(batch.x, Batch.from_data_list([featurizer(s) for s in SMILES]).x)


def test_attrmask_without_mask_rows_says_how_to_build_it() -> None:
    objective = build_objective(ObjectiveConfig(name="attrmask"))
    batch = Batch.from_data_list([MolGraphFeaturizer()("CCO")])
    model = objective.build_model(_tiny_encoder())
    with pytest.raises(ValueError, match="mask_atom=featurizer.mask_atom"):
        objective(model, batch, torch.Generator())


def test_masked_mse_skips_nan_targets_like_a_loop() -> None:
    prediction = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    target = torch.tensor([[0.0, float("nan"), 1.0], [float("inf"), 1.0, float("nan")]])
    terms = [
        (float(prediction[i, j]) - float(target[i, j])) ** 2
        for i in range(2)
        for j in range(3)
        if math.isfinite(float(target[i, j]))
    ]
    assert float(masked_mse(prediction, target)) == pytest.approx(sum(terms) / len(terms))
    prediction.requires_grad_(True)
    masked_mse(prediction, target).backward()
    assert torch.isfinite(prediction.grad).all() and prediction.grad[0, 1] == 0


def test_robust_scaler_is_median_and_iqr_of_finite_values() -> None:
    values = np.array(
        [[1, 5, np.nan], [2, 5, np.nan], [3, 5, np.nan], [100, 5, np.nan], [np.inf, 5, np.nan]]
    )
    center, scale = robust_scaler(values)
    finite = np.array([1.0, 2.0, 3.0, 100.0])
    q75, q25 = np.percentile(finite, [75, 25])
    assert center[0] == pytest.approx(np.median(finite)) and scale[0] == pytest.approx(q75 - q25)
    assert (center[1], scale[1]) == (5.0, 1.0)  # constant column: scale 1
    assert (center[2], scale[2]) == (0.0, 1.0)  # no finite value


def test_descriptor_loss_equals_standardised_mse_by_hand() -> None:
    featurizer = MolGraphFeaturizer(descriptors=True)
    graphs = [featurizer(s) for s in SMILES]
    graphs[0].desc[0, 3] = float("nan")
    batch = Batch.from_data_list(graphs)
    objective = build_objective(ObjectiveConfig(name="descriptors"))
    term = objective.terms[0]
    term.center = torch.linspace(0, 1, len(DESCRIPTOR_NAMES))
    term.scale = torch.linspace(1, 3, len(DESCRIPTOR_NAMES))
    model = objective.build_model(_tiny_encoder()).eval()
    loss, _ = objective(model, batch, torch.Generator())
    with torch.no_grad():
        prediction = model.heads["descriptors"].mlp(model.encoder.encode(batch))
    total, count = 0.0, 0
    for i in range(batch.num_graphs):
        for j in range(len(DESCRIPTOR_NAMES)):
            raw = float(batch.desc[i, j])
            if math.isfinite(raw):
                target = (raw - float(term.center[j])) / float(term.scale[j])
                total += (float(prediction[i, j]) - target) ** 2
                count += 1
    assert count == batch.num_graphs * len(DESCRIPTOR_NAMES) - 1
    assert float(loss.detach()) == pytest.approx(total / count, rel=1e-5)


def test_descriptor_extras_equal_rdkit_for_50_molecules() -> None:
    lines = embedded_smiles_path().read_text().splitlines()[:50]
    featurizer = MolGraphFeaturizer(descriptors=True)
    assert 20 <= len(DESCRIPTOR_NAMES) <= 60
    functions = dict(Descriptors.descList)
    for line in lines:
        smiles = line.split()[0]
        mol = Chem.MolFromSmiles(smiles)
        expected = np.array([functions[n](mol) for n in DESCRIPTOR_NAMES], dtype=np.float32)
        got = featurizer(smiles).desc
        assert got.shape == (1, len(DESCRIPTOR_NAMES)) and got.dtype == torch.float32
        np.testing.assert_allclose(got[0].numpy(), expected, rtol=1e-6, err_msg=smiles)
        np.testing.assert_array_equal(compute_descriptors(mol), expected)


def test_descriptor_option_leaves_other_featurizer_configs_unchanged() -> None:
    assert "descriptors" not in MolGraphFeaturizer(fingerprint=True).to_dict()
    with_desc = MolGraphFeaturizer(descriptors=True)
    assert with_desc.to_dict()["descriptors"] is True
    from molssl.featurize import featurizer_from_dict

    assert featurizer_from_dict(with_desc.to_dict()) == with_desc
    assert "desc" not in MolGraphFeaturizer()("CCO")


def _composed(name: str, featurizer: MolGraphFeaturizer, **settings):
    return build_objective(
        ObjectiveConfig(name=name, **settings),
        mask_atom=featurizer.mask_atom,
        mask_bond=featurizer.self_loop_bond,
    )


def _count_encoder_passes(encoder: MolEncoder) -> list[int]:
    """Count the encoder's message-passing runs (every forward path goes through them)."""
    calls = [0]
    inner = encoder.encode_nodes

    def counted(*args, **kwargs):
        calls[0] += 1
        return inner(*args, **kwargs)

    encoder.encode_nodes = counted
    return calls


def test_composed_attrmask_is_cross_entropy_on_the_views_masked_atoms() -> None:
    featurizer = MolGraphFeaturizer(descriptors=True)
    batch = Batch.from_data_list([featurizer(s) for s in SMILES])
    objective = _composed("molclr+attrmask", featurizer)
    encoder = _tiny_encoder()
    model = objective.build_model(encoder).eval()
    _, metrics = objective(model, batch, torch.Generator().manual_seed(5))

    view_a, view_b = objective.primary.augment(batch, torch.Generator().manual_seed(5))
    head = model.heads["attrmask"]
    atom_terms, bond_terms = [], []
    with torch.no_grad():
        for view in (view_a, view_b):
            node = encoder.encode_nodes(view.x, view.edge_index, view.edge_attr)
            masked = [i for i in range(batch.num_nodes) if view.x[i, 0] != batch.x[i, 0]]
            per_graph = torch.bincount(batch.batch[masked], minlength=batch.num_graphs)
            sizes = torch.bincount(batch.batch, minlength=batch.num_graphs)
            assert per_graph.tolist() == [max(1, int(0.25 * n)) for n in sizes.tolist()]
            for i in masked:
                target = int(batch.x[i, 0])
                atom_terms.append(-torch.log_softmax(head.atom(node[i]), -1)[target])
            for e in range(view.edge_index.shape[1]):
                u, v = view.edge_index[:, e].tolist()
                if (u in masked or v in masked) and u < v:
                    logits = head.bond(node[u] + node[v])
                    bond_terms.append(-torch.log_softmax(logits, -1)[int(view.edge_attr[e, 0])])
    atom = float(sum(atom_terms) / len(atom_terms))
    bond = float(sum(bond_terms) / len(bond_terms))
    assert len(bond_terms) > 0
    assert metrics["attrmask_atom_loss"] == pytest.approx(atom, rel=1e-5)
    assert metrics["attrmask_bond_loss"] == pytest.approx(bond, rel=1e-5)
    assert metrics["loss_attrmask"] == pytest.approx(atom + bond, rel=1e-5)


def test_composed_descriptors_average_both_views_against_the_molecules_targets() -> None:
    featurizer = MolGraphFeaturizer(descriptors=True)
    batch = Batch.from_data_list([featurizer(s) for s in SMILES])
    objective = _composed("molclr+descriptors", featurizer)
    encoder = _tiny_encoder()
    model = objective.build_model(encoder).eval()
    _, metrics = objective(model, batch, torch.Generator().manual_seed(2))

    views = objective.primary.augment(batch, torch.Generator().manual_seed(2))
    head = model.heads["descriptors"]
    target = head.standardize(batch.desc)
    with torch.no_grad():
        per_view = [masked_mse(head.mlp(encoder.encode(view)), target) for view in views]
    expected = 0.5 * float(per_view[0] + per_view[1])
    assert per_view[0] != per_view[1]
    assert metrics["loss_descriptors"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("two_view", ["molclr", "imolclr", "moco", "byol"])
def test_composed_step_runs_the_encoder_once(two_view: str) -> None:
    featurizer = MolGraphFeaturizer(descriptors=True, fingerprint=True, fragments=True)
    batch = Batch.from_data_list([featurizer(s) for s in SMILES])
    settings = {"moco": MoCoConfig(queue_size=8)}
    objective = _composed(f"{two_view}+attrmask+descriptors", featurizer, **settings)
    encoder = _tiny_encoder()
    model = objective.build_model(encoder, fingerprint_bits=batch.fp.shape[1]).train()
    calls = _count_encoder_passes(encoder)
    loss, metrics = objective(model, batch, torch.Generator().manual_seed(0))
    loss.backward()
    assert calls[0] == 1
    assert metrics["loss_attrmask"] > 0 and metrics["loss_descriptors"] > 0
    assert encoder.feat_lin.weight.grad is not None
    assert model.heads["attrmask"].atom.weight.grad.abs().sum() > 0
    assert model.heads["descriptors"].mlp[0].weight.grad.abs().sum() > 0


def test_composed_attrmask_masks_itself_when_the_views_mask_no_atom() -> None:
    featurizer = MolGraphFeaturizer()
    batch = Batch.from_data_list([featurizer(s) for s in SMILES])
    objective = _composed("molclr+attrmask", featurizer, augmentation="bond_deletion")
    encoder = _tiny_encoder()
    model = objective.build_model(encoder).eval()
    calls = _count_encoder_passes(encoder)
    _, metrics = objective(model, batch, torch.Generator().manual_seed(4))
    assert calls[0] == 2  # the views' forward, then attrmask's own on its masked batch

    alone = build_objective(
        ObjectiveConfig(name="attrmask"),
        mask_atom=featurizer.mask_atom,
        mask_bond=featurizer.self_loop_bond,
    )
    generator = torch.Generator().manual_seed(4)
    objective.primary.augment(batch, generator)  # the draws of the composed step's views
    loss, _ = alone(model, batch, generator)
    assert metrics["loss_attrmask"] == pytest.approx(float(loss.detach()), rel=1e-6)
