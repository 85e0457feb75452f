"""matplotlib, imported on first use with the Agg backend."""


def pyplot(what):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"{what} needs matplotlib: pip install 'shendu[plot]'") from None
    return plt
