"""Every error tailorai raises on purpose.

One base class, one subclass per stage, so callers can catch as broadly or narrowly as they like::

    TailorError                 anything tailorai raises on purpose; the CLI prints it as one line
    ├── ConfigError             a setting, option or config file value is invalid
    ├── StoreError              the database could not be opened, migrated or written
    ├── DataError               input data could not be read or nothing usable remained
    │   └── MissingDependency   an optional package or system tool a step needs is absent
    ├── ModelError              a base model or tokenizer could not be found or loaded
    ├── RegistryError           a model version could not be found, registered, promoted,
    │                           rolled back or exported
    ├── FrequencyCapped         a user reached a channel's frequency cap (fatigue control)
    ├── DivergedError           the training loss became NaN, infinite or exploded
    └── NotImprovedError        no trained scope beat its starting point's validation loss

Messages say what was wrong, what was received, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "DivergedError",
    "FrequencyCapped",
    "MissingDependency",
    "ModelError",
    "NotImprovedError",
    "RegistryError",
    "StoreError",
    "TailorError",
]


class TailorError(Exception):
    """Base class of every error tailorai raises on purpose."""


class ConfigError(TailorError, ValueError):
    """A setting, option or config file value is invalid."""


class StoreError(TailorError):
    """The database could not be opened, migrated or written."""


class DataError(TailorError):
    """Input data could not be read, or nothing usable remained after the pipeline."""


class MissingDependency(DataError):
    """An optional package or system tool that a step needs is not installed."""

    def __init__(self, what: str, install: str) -> None:
        super().__init__(f"{what} is not installed. Install it with: {install}")
        self.what = what
        self.install = install


class FrequencyCapped(TailorError):
    """A user reached a channel's frequency cap, or is backed off: nothing was sent."""


class ModelError(TailorError):
    """A base model or tokenizer could not be found or loaded."""


class RegistryError(TailorError):
    """A model version could not be found, registered, promoted, rolled back or exported."""


class DivergedError(TailorError):
    """The training loss became NaN, infinite or exploded; the run stopped."""


class NotImprovedError(TailorError):
    """Training ended no better than it started for every scope; nothing was registered."""
