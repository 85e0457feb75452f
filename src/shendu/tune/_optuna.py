"""The one place that imports Optuna, so a missing extra gives one clear message."""


def require_optuna():
    """Return the ``optuna`` module, or raise an ImportError naming the extra to install."""
    try:
        import optuna
    except ImportError as e:                            # pragma: no cover - depends on the venv
        raise ImportError("shendu.tune builds on Optuna, which is not installed: "
                          "pip install 'shendu[tune]'") from e
    return optuna
