from __future__ import annotations

from tocsin.cli import main

if __name__ == "__main__":
    main()
