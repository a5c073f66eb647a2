"""Config dataclasses and the registry of recipes."""

from official.configs.config import DataConfig

__all__ = ["DataConfig"]
