from __future__ import annotations

from promote_gate.cli import main

raise SystemExit(main())
