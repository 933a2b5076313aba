from pathlib import Path

import json

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "slr"

# What makes a test slow: an encoder (even the tiny one trains and embeds), the shared reviews, or
# executing notebooks. Such tests are marked ``slow`` at collection, so ``make test-fast`` (``-m "not
# slow"``: pure helpers and the command lines) is a list nobody has to keep by hand.
SLOW_FIXTURES = {"tiny_bert_dir", "tiny_sentence_encoder_dir", "shared_data"}
SLOW_MODULES = {"test_report", "test_lab", "test_book", "test_browser", "test_real_encoder", "test_distributed",
                "test_contrastive", "test_distill", "test_compose", "test_compress", "test_encoder", "test_bench",
                "test_space_plots", "test_variants", "test_experiment", "test_beyond", "test_asreview_stopper"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


WORDS = ("drug trial placebo randomized patients dose efficacy safety outcome review cohort "
         "study pain blood pressure inhibitor adverse events mg daily weeks group").split()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "nsaids.csv.gz").is_file():
        pytest.skip(f"real data not present at {SHARED} (tests on real data skip without ../shared)")
    return SHARED


def save_tiny_bert(folder: Path, *, positions: int, seed: int) -> Path:
    """A 4-layer BERT of hidden size 128 (wide enough for quanto's 4-bit groups of 128 input
    features) with its own word vocabulary, saved as a local folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(folder)  # transformers 5: `vocab`, not `vocab_file`
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
                     intermediate_size=256, max_position_embeddings=positions)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny BERT as a bare transformers folder: exercises the 'any local path' loading code that
    allenai/specter uses (no sentence-transformers config: [CLS] pooling)."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), positions=64, seed=0)


@pytest.fixture(scope="session")
def tiny_sentence_encoder_dir(tmp_path_factory) -> Path:
    """A tiny BERT packaged as the embedded MiniLM is: sentence-transformers' mean pooling and
    Normalize module, 128 positions (smoke mode's text length). Every notebook runs end to end
    on it in seconds."""
    folder = save_tiny_bert(tmp_path_factory.mktemp("tiny-sentence-encoder"), positions=128, seed=1)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 128,
                                                                  "pooling_mode_mean_tokens": True}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    return folder


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 20))) + " [SEP] " +
            " ".join(rng.choice(WORDS, size=rng.integers(5, 30))) for _ in range(n)]


def write_review(folder: Path, slug: str, n: int = 60, n_pos: int = 12, seed: int = 0, **overrides) -> Path:
    """A synthetic review file in the prepared format (columns of the shared data)."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    df = pd.DataFrame({
        "record_id": np.arange(1, n + 1),
        "pmid": np.arange(1000, 1000 + n),
        "title": [" ".join(rng.choice(words, 6)) for _ in range(n)],
        "abstract": [" ".join(rng.choice(words, 25)) for _ in range(n)],
        "label": np.r_[np.ones(n_pos, int), np.zeros(n - n_pos, int)],
    })
    for k, v in overrides.items():
        df[k] = v
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.csv.gz"
    df.to_csv(path, index=False)
    return path
