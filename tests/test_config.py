"""The settings dataclasses: validated when built, documented field by field, one name per knob."""

import os
import subprocess
import sys
from dataclasses import fields, replace

import pytest

from helpers.core.config import Settings, SweepConfig, TrainingArgs, settings


@pytest.mark.parametrize("make,message", [
    (lambda: TrainingArgs(pairs="All"), r"TrainingArgs.pairs must be one of \('random', 'all'\), got 'All'"),
    (lambda: TrainingArgs(learning_rate=-0.1), "TrainingArgs.learning_rate must be > 0"),
    (lambda: TrainingArgs(temperature=0), "TrainingArgs.temperature must be > 0"),
    (lambda: TrainingArgs(layers=()), "TrainingArgs.layers must be None, 'all', or distinct"),
    (lambda: TrainingArgs(layers=(1, 1)), "TrainingArgs.layers must be None, 'all', or distinct"),
    (lambda: TrainingArgs(epochs=0), "TrainingArgs.epochs must be a whole number >= 1"),
    (lambda: TrainingArgs(batch_size=1), "TrainingArgs.batch_size must be a whole number >= 2"),
    (lambda: TrainingArgs(lora_dropout=1.0), r"TrainingArgs.lora_dropout must be in \[0, 1\)"),
    (lambda: TrainingArgs(target_modules=()), "TrainingArgs.target_modules must name at least one module"),
    (lambda: SweepConfig(device="tpu"), "SweepConfig.device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
    (lambda: SweepConfig(normalize="yes"), "SweepConfig.normalize must be 'auto', True or False"),
    (lambda: SweepConfig(eval_cap=1), "SweepConfig.eval_cap must be None or a whole number >= 2"),
    (lambda: SweepConfig(n_per_class=1), "SweepConfig.n_per_class must be a whole number >= 2"),
    (lambda: SweepConfig(reviews=()), "SweepConfig.reviews must be None"),
    (lambda: settings("smoke", seeds=[1, 1]), r"Settings.seeds must be distinct whole numbers >= 0"),
    (lambda: settings("smoke", seeds=[-1]), r"Settings.seeds must be distinct whole numbers >= 0"),
    (lambda: settings("smoke", timing_budget_s=0), "Settings.timing_budget_s must be None or > 0"),
    (lambda: settings("smoke", train_shape=(1, 128)), "Settings.train_shape needs at least 2 pairs"),
    (lambda: settings("smoke", distillation={"steps": 4}), "Settings.distillation must be a DistillArgs"),
    (lambda: settings("smoke", scheduler="local:0"), "scheduler must be local:N"),
])
def test_bad_settings_are_an_error_naming_class_field_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_every_field_is_documented_where_it_is_defined():
    for cls in (TrainingArgs, SweepConfig, Settings):
        undocumented = [f.name for f in fields(cls) if not f.metadata.get("help")]
        assert not undocumented, f"{cls.__name__}: {undocumented}"


def test_one_name_per_knob_from_the_command_line_to_the_sweep():
    from helpers.commands.report import _parser

    options = {a.dest for a in _parser()._actions}
    shared = {f.name for f in fields(SweepConfig)} - {"training", "n_per_class", "max_length"}
    assert shared <= options  # every sweep knob a run varies is a command-line option of the same name
    s = settings("full", eval_cap=300, reviews=["nsaids"], data_dir="/data")
    config = s.sweep()
    assert type(config) is SweepConfig and (config.eval_cap, config.reviews, config.data_dir) == (300, ("nsaids",), "/data")
    assert s.sweep(normalize=True).normalize is True and s.sweep().training == TrainingArgs()
    assert hash(config) == hash(settings("full", eval_cap=300, reviews=("nsaids",), data_dir="/data").sweep())


def test_mode_defaults_and_overrides(tmp_path):
    smoke, full = settings("smoke"), settings("full")
    assert smoke.out_dir != full.out_dir and "build" in smoke.out_dir.parts
    assert len(full.seeds) >= 5 and full.eval_cap is None and full.tsne_per_class == 300 and full.run_setfit
    assert smoke.training == TrainingArgs(n_positive=16, n_negative=16, epochs=1) and full.training == TrainingArgs()
    assert settings("smoke", seeds=[3, 4], out_dir=tmp_path).seeds == (3, 4)
    full_recomputed = settings("full", recompute=True)
    assert full_recomputed.results_path.name == "results.recomputed.csv"
    assert full_recomputed.artefacts_dir.name == "artefacts.recomputed" and full.artefacts_dir.name == "artefacts"
    with pytest.raises(ValueError, match="mode must be one of"):
        settings("huge")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['sweep_seeds'\]"):
        settings("smoke", sweep_seeds=[1])


def test_training_identity_leaves_out_what_the_arguments_do_not_use():
    assert {"n_positive", "n_negative"} <= set(TrainingArgs().identity())
    assert not {"n_positive", "n_negative"} & set(TrainingArgs(pairs="all").identity())
    assert "layers" not in TrainingArgs().identity() and "last_n_layers" not in TrainingArgs(layers=(0, 1)).identity()
    # naming the default's layers is the default's adapter
    assert TrainingArgs(layers=(3, 4, 5)).resolved(6) == TrainingArgs()
    assert replace(TrainingArgs(), layers="all").adapted_layers(4) == [0, 1, 2, 3]


def test_importing_the_package_changes_nothing_in_the_process(tmp_path):
    code = ("import os, sys; before = dict(os.environ), os.getcwd(); import helpers, helpers.commands.screen, helpers.methods.peers; "
            "helpers.methods.asreview_peers.load_asreview(); after = dict(os.environ), os.getcwd(); "
            "changed = {k for k in set(before[0]) | set(after[0]) if before[0].get(k) != after[0].get(k)}; "
            "print(changed <= SKLEARN and before[1] == after[1], 'torch' in sys.modules)").replace(
        "SKLEARN", repr({"KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"}))  # scikit-learn sets these two at its import
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert out.stdout.split() == ["True", "False"]  # no variable set, no folder changed, no torch for reading files
    assert list(tmp_path.iterdir()) == []  # ASReview's dataset cache file was not written where the user stands


def test_a_scheduler_address_is_reached_before_work_ipv4_or_ipv6():
    import socket

    from helpers.core.config import reach_scheduler

    with socket.create_server(("::1", 0), family=socket.AF_INET6) as server:
        reach_scheduler(f"tcp://[::1]:{server.getsockname()[1]}")  # answers: no error
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        reach_scheduler(f"tcp://127.0.0.1:{port}")
    with pytest.raises(ValueError, match=f"no Dask scheduler answers at tcp://127.0.0.1:{port}"):
        reach_scheduler(f"tcp://127.0.0.1:{port}", timeout=0.5)  # closed now
