"""The grid engine: which pairs to compute (``plan``) and where to compute them (``run``)."""

from .run import grid

__all__ = ["grid"]
