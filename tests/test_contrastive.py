from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from conftest import synthetic_texts
from helpers.core.config import TrainingArgs
from helpers.models.contrastive import (adapter_dir, contrastive_loss, lora_config, train_lora,
                                        trainable_parameter_count)
from helpers.models.encoder import SPECTER_CONFIG, load_encoder


def numpy_loss(x, y, pos, tau):
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    denom = np.exp(cos[~pos] / tau).sum()
    return -np.mean([np.log(np.exp(c / tau) / denom) for c in cos[pos]])


@pytest.mark.parametrize("seed", range(5))
def test_loss_matches_direct_numpy(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(16, 8)), rng.normal(size=(16, 8))
    pos = rng.permutation(np.r_[np.ones(8, bool), np.zeros(8, bool)])
    got = contrastive_loss(torch.tensor(x), torch.tensor(y), torch.tensor(pos), 0.2)
    assert float(got) == pytest.approx(numpy_loss(x, y, pos, 0.2), rel=1e-10)


def test_loss_rejects_batches_without_both_kinds():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="both positive and negative"):
        contrastive_loss(x, x, torch.ones(4, dtype=torch.bool))


@pytest.mark.parametrize("config,expected", [
    (SPECTER_CONFIG, 36_864),
    (dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
          intermediate_size=1536), 18_432),  # all-MiniLM-L6-v2
])
def test_trainable_parameters_from_configuration(config, expected):
    from peft import get_peft_model

    model = get_peft_model(BertModel(BertConfig(**config), add_pooling_layer=False),
                           lora_config(BertModel(BertConfig(**config)), TrainingArgs()))
    assert trainable_parameter_count(model) == expected
    n = config["num_hidden_layers"]
    adapted = {name.split(".layer.")[1].split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert adapted == {str(n - 3), str(n - 2), str(n - 1)}


def _tiny_setup(tiny_bert_dir, tmp_path):
    enc = load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)
    texts = synthetic_texts(16, seed=1)
    labels = np.r_[np.ones(8, int), np.zeros(8, int)]
    return enc, texts, labels


def test_training_changes_only_lora_weights(tiny_bert_dir, tmp_path):
    enc, texts, labels = _tiny_setup(tiny_bert_dir, tmp_path)
    before = {k: v.clone() for k, v in enc.model.state_dict().items()}
    adapted, log = train_lora(enc, texts, labels, seed=0, progress=False)
    assert log["steps"] == 10 and np.isfinite(log["losses"]).all()
    after = adapted.model.state_dict()
    assert any("lora_B" in k and after[k].abs().sum() > 0 for k in after)  # B starts at 0; training moved it
    base_after = {k.removeprefix("base_model.model.").replace(".base_layer", ""): v
                  for k, v in after.items() if "lora_" not in k}
    assert base_after.keys() == before.keys()
    for name, tensor in before.items():  # every base weight identical, input encoder untouched
        assert torch.equal(base_after[name], tensor), name
        assert torch.equal(enc.model.state_dict()[name], tensor), name


def test_same_seed_same_adapter_and_scores_and_cache_reuse(tiny_bert_dir, tmp_path):
    enc, texts, labels = _tiny_setup(tiny_bert_dir, tmp_path)
    a, _ = train_lora(enc, texts, labels, seed=3, progress=False)
    uncached = replace(enc, cache_dir=None)  # retrain from scratch, no cache
    torch.manual_seed(123)  # the global random state must not matter
    b, _ = train_lora(uncached, texts, labels, seed=3, progress=False)
    c, _ = train_lora(uncached, texts, labels, seed=4, progress=False)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    np.testing.assert_array_equal(a.embed(texts, progress=False), b.embed(texts, progress=False))
    cached, _ = train_lora(enc, texts, labels, seed=3, progress=False)  # loaded from disk
    assert cached.fingerprint() == a.fingerprint()
    assert list((tmp_path / "adapters").glob("*/adapter_model.safetensors"))


def test_training_leaves_the_global_random_stream_alone(tiny_bert_dir, tmp_path):
    enc, texts, labels = _tiny_setup(tiny_bert_dir, tmp_path)
    torch.manual_seed(7)
    expected = torch.rand(1)
    torch.manual_seed(7)
    train_lora(replace(enc, cache_dir=None), texts, labels, seed=0, progress=False)
    assert torch.equal(torch.rand(1), expected)


def test_a_damaged_adapter_is_reported_and_trained_again(tiny_bert_dir, tmp_path):
    enc, texts, labels = _tiny_setup(tiny_bert_dir, tmp_path)
    first, _ = train_lora(enc, texts, labels, seed=1, progress=False)
    folder = adapter_dir(enc, texts, labels, seed=1, args=TrainingArgs())
    (folder / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.warns(UserWarning, match=f"damaged cache entry {folder}"):
        again, _ = train_lora(enc, texts, labels, seed=1, progress=False)
    assert again.fingerprint() == first.fingerprint()
    assert (folder / "adapter_model.safetensors").stat().st_size > 100  # rebuilt


def test_adapter_key_follows_training_arguments_not_normalisation(tiny_bert_dir, tmp_path):
    enc, texts, labels = _tiny_setup(tiny_bert_dir, tmp_path)
    key = adapter_dir(enc, texts, labels, seed=0, args=TrainingArgs())
    assert adapter_dir(enc, texts, labels, seed=0, args=TrainingArgs(learning_rate=0.001)) != key
    assert adapter_dir(enc, texts, labels, seed=0, args=TrainingArgs(epochs=3)) != key
    assert adapter_dir(replace(enc, normalize=True), texts, labels, seed=0, args=TrainingArgs()) == key
