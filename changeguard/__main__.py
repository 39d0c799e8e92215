"""Entry point for `changeguard` and `python -m changeguard`."""

from __future__ import annotations


def run() -> None:
    from changeguard.cli import main

    raise SystemExit(main())


if __name__ == "__main__":
    run()
