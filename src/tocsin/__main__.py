from __future__ import annotations

from tocsin.cli import main

main()
