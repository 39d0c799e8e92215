"""`python -m changeguard.hook`: what the installed bare-git hook execs (issue 6 §1)."""

from changeguard.hook import main

raise SystemExit(main())
