"""``python -m depix.restore`` = ``depix-restore``."""

from depix.restore.cli import main

raise SystemExit(main())
