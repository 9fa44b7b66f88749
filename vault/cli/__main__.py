"""`python -m vault.cli`: `dossier-vault` without the installed script."""

import sys

from vault.cli import main

sys.exit(main())
