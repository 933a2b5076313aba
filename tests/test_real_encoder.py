"""One end-to-end path on the real embedded encoder (the packaged all-MiniLM-L6-v2), the slice
`make verify` checks: phase 1 and both heads computed from an empty cache reproduce the committed
rows of one small review and seed exactly. The rest of the suite runs on tiny encoders."""

from pathlib import Path

import pytest

from conftest import SHARED
from helpers.core import results
from helpers.core.config import settings
from helpers.methods.trial import Trial
from helpers.methods.variants import Base, Lora

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_real_encoder_reproduces_a_committed_row_from_an_empty_cache(tmp_path, monkeypatch):
    if not (SHARED / "antihistamines.csv.gz").is_file():
        pytest.skip(f"real data not present at {SHARED}")
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    config = settings("full", data_dir=str(SHARED)).sweep()
    trial = Trial(config, "antihistamines", 0)  # 310 citations: the smallest review
    stored = results.read(ROOT / "results" / "results.csv")
    for variant in (Base(), Lora()):
        record = trial.record(variant)
        committed = results.select(stored, [trial.key(variant)])
        assert len(committed) == 1, f"{variant.name}: its committed row is missing"
        # the same ranking: AWSS@95 equal up to the 16 digits the CSV keeps
        assert record["awss"] == pytest.approx(committed["awss"].iloc[0], rel=0, abs=1e-12), variant.name
        # the threshold is a float32 score: batches padded otherwise move its last digits
        assert record["threshold"] == pytest.approx(committed["threshold"].iloc[0], rel=1e-6), variant.name
    assert record["trainable_parameters"] == 18_432  # LoRA on MiniLM: rank 4, key/value, last 3 of 6 layers
