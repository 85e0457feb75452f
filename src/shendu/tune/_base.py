"""What the LIPO and GP samplers share: an Optuna ``BaseSampler`` that samples the whole
(intersection) search space at once in the unit cube of ``_encoding.Encoding``.

A subclass implements ``_propose(enc, X, y, numbers, X_running, trial, rng) -> (d,) point``
for the minimisation of y (n,) over the completed trials X (n, d) (``numbers``: their trial
numbers); ``X_running`` (r, d) holds the trials still running (other workers), which a
proposal should stay away from. Before ``n_startup_trials`` complete, points are drawn
uniformly (trial 0 at the centre of the space when the class sets ``start_at_centre``, as
dlib does). Parameters outside the joint space (conditional ones) are drawn by Optuna's
RandomSampler.
"""
import numpy as np

from ._optuna import require_optuna
from ._encoding import Encoding

optuna = require_optuna()
from optuna.samplers import BaseSampler, RandomSampler  # noqa: E402
from optuna.search_space import IntersectionSearchSpace  # noqa: E402
from optuna.study import StudyDirection  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

__all__ = ["CubeSampler"]


class CubeSampler(BaseSampler):
    start_at_centre = False

    def __init__(self, seed=None, n_startup_trials=5):
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(seed=seed)
        self._space = IntersectionSearchSpace()
        self.n_startup_trials = int(n_startup_trials)

    def reseed_rng(self):
        self._rng = np.random.default_rng()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study, trial):
        return {n: d for n, d in self._space.calculate(study).items() if not d.single()}

    def _observations(self, study, search_space):
        """Completed trials as (X (n, d), y (n,) to minimise, n-vector of trial numbers) and
        running trials as X_running, all in the unit cube."""
        enc = Encoding(search_space)
        trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                           TrialState.RUNNING), use_cache=False)
        done = [t for t in trials if t.state == TrialState.COMPLETE
                and search_space.keys() <= t.params.keys()]
        running = [t for t in trials if t.state == TrialState.RUNNING
                   and search_space.keys() <= t.params.keys()]
        X = np.array([enc.encode(t.params) for t in done]).reshape(len(done), enc.d)
        Xr = np.array([enc.encode(t.params) for t in running]).reshape(len(running), enc.d)
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
        y = sign * np.array([t.value for t in done], dtype=np.float64)
        finite = np.isfinite(y)
        if not finite.all() and finite.any():       # ±inf: just past the worst/best finite
            lo, hi = y[finite].min(), y[finite].max()
            span = max(hi - lo, 1.0)
            y = np.where(y == np.inf, hi + span, np.where(y == -np.inf, lo - span, y))
        elif not finite.all():
            y = np.where(y > 0, 1.0, -1.0)
        numbers = np.array([t.number for t in done], dtype=np.int64)
        return enc, X, y, numbers, Xr

    def sample_relative(self, study, trial, search_space):
        self._raise_error_if_multi_objective(study)
        if not search_space:
            return {}
        enc, X, y, numbers, Xr = self._observations(study, search_space)
        if len(y) < max(self.n_startup_trials, 1):
            x = enc.sample(self._rng, 1)[0]
            if self.start_at_centre and trial.number == 0:
                x[~enc.is_cat] = 0.5             # dlib's first point: the middle of the box
            return enc.decode(x)
        x = self._propose(enc, X, y, numbers, Xr, trial, self._rng)
        return enc.decode(x)

    def _propose(self, enc, X, y, numbers, X_running, trial, rng):
        raise NotImplementedError

    def sample_independent(self, study, trial, param_name, param_distribution):
        self._raise_error_if_multi_objective(study)
        if self.start_at_centre and trial.number == 0 and not param_distribution.single() \
                and not isinstance(param_distribution, optuna.distributions.CategoricalDistribution):
            enc = Encoding({param_name: param_distribution})
            return enc.decode(np.array([0.5]))[param_name]
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._random.before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._random.after_trial(study, trial, state, values)
