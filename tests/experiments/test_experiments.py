"""Every experiment runs end to end on its tiny "test" budget (the same code as --quick and
the full budget, fewer steps); the runner's table, CSV, PNG, verdict line, report page and
the `shendu experiment` command; hessian-stationary against a hand computation."""
import csv
import os

import numpy as np
import pytest

from shendu import cli, experiments
from shendu.experiments import _runner, hessian
from shendu.experiments._verdict import HELD, NOT_HELD, INCONCLUSIVE

PNG = b"\x89PNG\r\n\x1a\n"
SLOW = {"fine-tuning": 1}           # LeNet pre-training: one seed is enough to run its code


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """The models are tiny: one BLAS thread is as fast and does not fight other processes."""
    pytest.importorskip("matplotlib")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                                         # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.mark.parametrize("name", _runner.names())
def test_every_experiment_runs_on_the_test_budget(name, tmp_path):
    n = SLOW.get(name, 2)
    res = experiments.run(name, budget="test", seeds=n, out=str(tmp_path))
    assert res.name == name and res.seeds == list(range(n))
    assert res.metrics and all(v.shape == (n,) and np.isfinite(v).all()
                               for v in res.metrics.values())
    exp = experiments.get(name)
    assert len(res.checks) == len(exp.checks) >= 1
    for c in exp.checks:                   # every check names measured numbers
        for side in (c.a, c.b):
            assert isinstance(side, (int, float)) or side in res.metrics, (name, side)
    assert res.verdict in (HELD, NOT_HELD, INCONCLUSIVE)
    if n == 1:
        assert res.verdict == INCONCLUSIVE       # no spread, no decision
    line = res.verdict_line()
    assert line.startswith(f"verdict: {res.verdict} (") and "Welch" in line
    with open(res.png, "rb") as fh:
        assert fh.read(8) == PNG
    with open(res.csv) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["metric"] + [f"seed{s}" for s in range(n)] + ["mean", "std"]
    assert {r[0] for r in rows[1:]} == set(res.metrics)


def test_hessian_stationary_matches_the_hand_computation():
    """x³ - 3x + y²: ∇f = (3x² - 3, 2y) vanishes at (±1, 0); H = diag(6x, 2), so (1, 0) is a
    minimum (6, 2) and (-1, 0) a saddle (-6, 2). sin x sin y at (π/2, π/2): H = -I, a
    maximum; at 0: [[0, 1], [1, 0]], eigenvalues ±1, a saddle. x² + y² - z² + xy:
    [[2, 1, 0], [1, 2, 0], [0, 0, -2]], eigenvalues 1, 3, -2."""
    res = experiments.run("hessian-stationary", seeds=2)
    hand = {"cubic_min": (2, 6), "cubic_saddle": (-6, 2), "sinsin_max": (-1, -1),
            "sinsin_saddle": (-1, 1), "3d_saddle": (-2, 3), "bowl": (2, 6), "cap": (-4, -2),
            "saddle": (-2, 2), "weak_min": (0, 2)}
    for name, (lo, hi) in hand.items():
        np.testing.assert_allclose(res.metrics[f"{name}_eig_min"], lo, atol=1e-9)
        np.testing.assert_allclose(res.metrics[f"{name}_eig_max"], hi, atol=1e-9)
        ev = np.linalg.eigvalsh(np.array(hessian.FUNCTIONS[name][2], float))
        assert (ev[0], ev[-1]) == pytest.approx((lo, hi))
    kinds = {k[:-5]: v for k, v in res.trials[0].items() if k.endswith("_kind")}
    assert kinds["cubic_min"] == ("minimum", "minimum")
    assert kinds["cubic_saddle"] == ("saddle", "saddle")
    assert kinds["sinsin_max"] == ("maximum", "maximum")
    assert kinds["weak_min"] == ("weak minimum", "minimum")
    assert res.verdict == HELD
    assert hessian.classify([0.0, 0.0]) == "undecided"
    assert hessian.classify([-1.0, 0.0]) == "weak maximum"


def test_runner_table_summary_and_errors():
    res = experiments.run("hessian-stationary", seeds=3)
    mean, std, lo, hi = res.summary()["cubic_min_eig_max"]
    assert mean == pytest.approx(6) and std < 1e-9 and lo <= mean <= hi
    assert "cubic_min_eig_max" in res.table() and "| metric | mean |" in res.markdown()
    with pytest.raises(KeyError, match="no experiment called 'nope'"):
        experiments.run("nope")
    with pytest.raises(ValueError, match="seeds"):
        experiments.run("hessian-stationary", seeds=0)
    with pytest.raises(ValueError, match="budget"):
        experiments.run("hessian-stationary", budget="huge")


def test_cli_list_run_and_run_all_report(tmp_path, capsys, monkeypatch):
    assert cli.main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    for name in _runner.names():
        assert name in out
    assert "seed 001" in out
    assert cli.main(["experiment", "run", "receptive-field", "--budget", "test", "--seeds", "2",
                     "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("verdict: ") and "p=" in lines[-1]
    assert any(ln.startswith("metric ") for ln in lines)
    assert os.path.exists(tmp_path / "receptive-field.png")
    assert cli.main(["experiment", "run", "nope"]) == 2
    assert "no experiment called 'nope'" in capsys.readouterr().err
    monkeypatch.setattr(_runner, "names", lambda: ["hessian-stationary", "receptive-field"])
    out_all = tmp_path / "all"
    assert cli.main(["experiment", "run", "all", "--budget", "test", "--out",
                     str(out_all)]) == 0
    page = (out_all / "report.md").read_text()
    for name in ("hessian-stationary", "receptive-field"):
        assert f"## {name}" in page and f"![{name}]({name}.png)" in page
        assert os.path.exists(out_all / f"{name}.png")
    assert "| experiment | claim | source | verdict | seconds |" in page
