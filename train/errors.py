"""Project exceptions: each carries one user-facing sentence."""


class TrainError(Exception):
    """Base class: the CLI prints the message on one line and exits 1."""


class DataError(TrainError):
    """A data file is missing, unreadable or invalid."""


class ModelError(TrainError):
    """A model file is missing, unreadable or does not match the code."""


class TrackingError(TrainError):
    """The MLflow tracking store cannot be used."""
