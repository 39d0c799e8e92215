"""changeguard: change-management guardrail."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Lazy: the hook imports this package and must not pay for importlib.metadata.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("changeguard")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0+unknown"
    raise AttributeError(name)
