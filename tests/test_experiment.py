import numpy as np

from conftest import write_review
from helpers.experiment import append_results, done, prepare_review, read_results


def test_eval_cap_keeps_every_included_and_enough_excluded(tmp_path):
    write_review(tmp_path, "oral_hypoglycemics", n=300, n_pos=150)
    full = prepare_review("oral_hypoglycemics", seed=0, data_dir=tmp_path)
    capped = prepare_review("oral_hypoglycemics", seed=0, eval_cap=120, data_dir=tmp_path)
    assert np.array_equal(capped.split.train, full.split.train)
    assert capped.eval.label.sum() == full.eval.label.sum() == 142  # no included dropped
    assert (capped.eval.label == 0).sum() == 60  # at least cap // 2 excluded kept
    assert (prepare_review("oral_hypoglycemics", seed=0, eval_cap=200, data_dir=tmp_path).eval.label == 0).sum() == 100
    write_review(tmp_path, "nsaids", n=600, n_pos=150)
    exact = prepare_review("nsaids", seed=0, eval_cap=400, data_dir=tmp_path)
    assert len(exact.eval) == 400  # cap - included = 258 > cap // 2: the cap is met exactly
    assert np.array_equal(prepare_review("nsaids", seed=0, eval_cap=400, data_dir=tmp_path).split.eval,
                          exact.split.eval)


def test_results_table_replaces_by_key_and_reports_done(tmp_path):
    path = tmp_path / "results.csv"
    row = {"review": "nsaids", "variant": "lora", "seed": 0, "encoder": "m", "max_length": 256, "eval_cap": -1, "awss": 0.1}
    append_results(path, [row])
    append_results(path, [{**row, "awss": 0.2}, {**row, "seed": 1}])
    table = read_results(path)
    assert len(table) == 2 and table.loc[table.seed == 0, "awss"].item() == 0.2
    assert done(table, "nsaids", "lora", 1, "m", 256, None)
    assert not done(table, "nsaids", "base", 1, "m", 256, None)
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_capped_evaluation_sets_of_different_seeds_overlap(tmp_path):
    write_review(tmp_path, "nsaids", n=600, n_pos=150)
    a = set(prepare_review("nsaids", seed=0, eval_cap=200, data_dir=tmp_path).split.eval)
    b = set(prepare_review("nsaids", seed=1, eval_cap=200, data_dir=tmp_path).split.eval)
    assert len(a & b) > 0.9 * len(a)  # only the training draws differ
