"""`python -m bpm_edit.cli`: the `bpm-edit` command without the installed script."""

import sys

from bpm_edit.cli import main

sys.exit(main())
