"""MolEncoder, its layers and its config."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from molssl.contrastive.config import ConfigError
from molssl.featurize import MolGraphFeaturizer, RichGraphFeaturizer
from molssl.models import (
    CONVS,
    ENCODERS,
    POOLINGS,
    EncoderConfig,
    EncoderOutput,
    FeatureEmbedding,
    GCNConv,
    GINEConv,
    MolEncoder,
)

SMILES = ["CCO", "c1ccccc1O", "C[C@@H](N)C(=O)O", "F/C=C/F", "[Na+].[Cl-]", "C", "CC#N"]
SMALL = {"num_layers": 2, "hidden_channels": 16, "out_channels": 12, "proj_dim": 6}


@pytest.fixture(scope="module")
def featurizer() -> MolGraphFeaturizer:
    return MolGraphFeaturizer()


@pytest.fixture(scope="module")
def graphs(featurizer: MolGraphFeaturizer) -> list:
    return [featurizer(s) for s in SMILES]


def small_encoder(featurizer, **kwargs) -> MolEncoder:
    torch.manual_seed(0)
    cfg = EncoderConfig.from_featurizer(featurizer, **{**SMALL, **kwargs})
    return MolEncoder.from_config(cfg)


@pytest.mark.parametrize("conv", sorted(CONVS))
def test_output_shapes_and_namedtuple(featurizer, graphs, conv) -> None:
    enc = small_encoder(featurizer, conv=conv).eval()
    batch = Batch.from_data_list(graphs)
    out = enc.forward_batch(batch)
    assert isinstance(out, EncoderOutput)
    assert out.h.shape == (len(SMILES), 12)
    assert out.z.shape == (len(SMILES), 6)
    assert out.node.shape == (batch.num_nodes, 16)
    h, z, node = out
    assert torch.equal(enc.encode(batch), h)


@pytest.mark.parametrize("pooling", sorted(POOLINGS))
@pytest.mark.parametrize("conv", sorted(CONVS))
def test_forward_backward_reaches_every_parameter(featurizer, graphs, conv, pooling) -> None:
    enc = small_encoder(featurizer, conv=conv, pooling=pooling, dropout=0.1).train()
    out = enc.forward_batch(Batch.from_data_list(graphs))
    (out.h.square().mean() + out.z.square().mean()).backward()
    for name, param in enc.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("pooling", sorted(POOLINGS))
@pytest.mark.parametrize("conv", sorted(CONVS))
def test_embedding_does_not_depend_on_batch_company(featurizer, graphs, conv, pooling) -> None:
    enc = small_encoder(featurizer, conv=conv, pooling=pooling).eval()
    together = enc.forward_batch(Batch.from_data_list(graphs))
    for i, graph in enumerate(graphs):
        alone = enc.forward_batch(Batch.from_data_list([graph]))
        torch.testing.assert_close(alone.h[0], together.h[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alone.z[0], together.z[i], atol=1e-5, rtol=1e-5)
    single = enc(graphs[1].x, graphs[1].edge_index, graphs[1].edge_attr)
    torch.testing.assert_close(single.h[0], together.h[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("conv", sorted(CONVS))
def test_single_atom_and_bondless_molecules(featurizer, conv) -> None:
    enc = small_encoder(featurizer, conv=conv).eval()
    for smiles in ["C", "[Na+].[Cl-]", "[He]"]:
        data = featurizer(smiles)
        assert data.edge_index.shape == (2, 0)
        out = enc.forward_batch(data)
        assert out.h.shape == (1, 12)
        assert torch.isfinite(out.z).all()


@pytest.mark.parametrize("conv", sorted(CONVS))
def test_batch_without_any_edge_trains(featurizer, conv) -> None:
    enc = small_encoder(featurizer, conv=conv).train()
    batch = Batch.from_data_list([featurizer(s) for s in ["C", "O", "[Na+].[Cl-]"]])
    assert batch.edge_index.numel() == 0
    out = enc.forward_batch(batch)
    out.z.sum().backward()
    assert out.h.shape == (3, 12)
    empty_1d = torch.empty(0, dtype=torch.long)
    enc.eval()
    torch.testing.assert_close(
        enc(batch.x, batch.edge_index, empty_1d, batch.batch).h, enc.forward_batch(batch).h
    )


def naive_conv(conv, x, edge_index, edge_attr) -> torch.Tensor:
    """Loop reference of both MolCLR layers (self-loops with the reserved bond row)."""
    n = x.size(0)
    edges = [(int(s), int(t), edge_attr[k]) for k, (s, t) in enumerate(edge_index.t())]
    edges += [(i, i, torch.tensor(conv.self_loop_bond)) for i in range(n)]
    tables = [emb.weight for emb in conv.bond_encoder.embeddings]
    xw = x @ conv.weight if isinstance(conv, GCNConv) else x
    out = torch.zeros(n, xw.size(1))
    for s, t, attr in edges:
        e = sum(table[int(a)] for table, a in zip(tables, attr, strict=True))
        out[t] += xw[s] + e
    return out + conv.bias if isinstance(conv, GCNConv) else conv.mlp(out)


@pytest.mark.parametrize("cls", [GINEConv, GCNConv])
def test_conv_matches_loop_reference(featurizer, cls) -> None:
    torch.manual_seed(1)
    conv = cls(8, featurizer.bond_feature_sizes, featurizer.self_loop_bond)
    data = featurizer("C/C=C/c1ccccc1C#N")
    x = torch.randn(data.num_nodes, 8)
    expected = naive_conv(conv, x, data.edge_index, data.edge_attr)
    torch.testing.assert_close(conv(x, data.edge_index, data.edge_attr), expected)


def test_vocabulary_sizes_come_from_the_featurizer(featurizer) -> None:
    enc = MolEncoder.from_config(EncoderConfig.from_featurizer(featurizer, **SMALL))
    assert enc.atom_encoder.feature_sizes == featurizer.atom_feature_sizes == (119, 4)
    assert enc.gnns[0].bond_encoder.feature_sizes == featurizer.bond_feature_sizes == (5, 3)
    assert enc.gnns[0].self_loop_bond == featurizer.self_loop_bond == (4, 0)

    class Tiny:
        atom_feature_sizes = (7, 2, 3)
        bond_feature_sizes = (3, 2)
        self_loop_bond = (2, 1)

    enc = MolEncoder.from_config(EncoderConfig.from_featurizer(Tiny(), conv="gcn", **SMALL))
    assert [e.num_embeddings for e in enc.atom_encoder.embeddings] == [7, 2, 3]
    assert [e.weight.shape for e in enc.gnns[1].bond_encoder.embeddings] == [(3, 1), (2, 1)]
    x = torch.tensor([[6, 1, 2], [0, 0, 0]])
    out = enc.eval()(x, torch.tensor([[0, 1], [1, 0]]), torch.tensor([[1, 0], [1, 0]]))
    assert out.h.shape == (1, 12)
    with pytest.raises(ValueError, match=r"shape \[N, 3\]"):
        enc(x[:, :2], torch.empty(2, 0, dtype=torch.long), torch.empty(0, 2, dtype=torch.long))


@pytest.mark.parametrize("conv", sorted(CONVS))
def test_runs_on_the_rich_featurizer_from_its_declared_sizes(conv) -> None:
    rich = RichGraphFeaturizer()
    enc = small_encoder(rich, conv=conv).eval()
    assert enc.atom_encoder.feature_sizes == tuple(rich.atom_feature_sizes)
    batch = Batch.from_data_list([rich(s) for s in SMILES])
    assert torch.isfinite(enc.forward_batch(batch).z).all()


def test_feature_embedding_sums_columns() -> None:
    emb = FeatureEmbedding((4, 3), 5)
    x = torch.tensor([[1, 2], [3, 0]])
    expected = emb.embeddings[0].weight[x[:, 0]] + emb.embeddings[1].weight[x[:, 1]]
    torch.testing.assert_close(emb(x), expected)
    with pytest.raises(ValueError, match="feature_sizes"):
        FeatureEmbedding((), 5)


def test_state_dict_and_config_round_trip(featurizer, graphs, tmp_path) -> None:
    enc = small_encoder(featurizer, conv="gcn", pooling="attention").eval()
    path = tmp_path / "encoder.pt"
    torch.save({"config": enc.config.to_dict(), "state_dict": enc.state_dict()}, path)
    saved = torch.load(path, weights_only=True)
    clone = MolEncoder.from_config(EncoderConfig.from_dict(saved["config"]))
    clone.load_state_dict(saved["state_dict"])
    clone.eval()
    assert clone.config == enc.config
    batch = Batch.from_data_list(graphs)
    torch.testing.assert_close(clone.forward_batch(batch).z, enc.forward_batch(batch).z)


def test_reset_parameters_reinitialises(featurizer) -> None:
    enc = small_encoder(featurizer)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    enc.reset_parameters()
    after = enc.state_dict()
    assert not torch.equal(before["gnns.0.mlp.0.weight"], after["gnns.0.mlp.0.weight"])
    assert not torch.equal(
        before["atom_encoder.embeddings.0.weight"], after["atom_encoder.embeddings.0.weight"]
    )


def test_config_is_strict_and_mirrors_the_constructor() -> None:
    import inspect

    params = list(inspect.signature(MolEncoder.__init__).parameters)[1:]
    assert params == list(EncoderConfig.__dataclass_fields__)
    assert EncoderConfig.from_dict({"dropout": 0, "self_loop_bond": [4, 0]}).dropout == 0.0
    with pytest.raises(ConfigError, match="bogus"):
        EncoderConfig.from_dict({"bogus": 1})
    with pytest.raises(ConfigError, match="num_layers"):
        EncoderConfig.from_dict({"num_layers": "five"})
    with pytest.raises(ConfigError, match="conv"):
        EncoderConfig(conv="transformer")
    with pytest.raises(ConfigError, match="pooling"):
        MolEncoder(pooling="median")
    with pytest.raises(ConfigError, match="self_loop_bond"):
        EncoderConfig(self_loop_bond=(5, 0))
    with pytest.raises(TypeError, match="num_layers"):
        EncoderConfig(num_layers=2.0)


def test_encoder_registry_builds_each_conv() -> None:
    assert set(ENCODERS) == set(CONVS) == {"gin", "gcn", "gcn-norm"}
    enc = ENCODERS["gcn"](**SMALL)
    assert isinstance(enc.gnns[0], GCNConv)
    assert enc.config.conv == "gcn"
