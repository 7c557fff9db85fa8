"""The `bpm-edit` command line: one subcommand per job.

Each subcommand lives beside the code it drives and exposes `register(subparsers)`;
this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules that define subcommands, in the order `--help` lists them.
COMMAND_MODULES = (
    "bpm_edit.cli.parse",
    "bpm_edit.cli.score",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpm-edit", description="BPM metric for instruction-based image editing."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors the user can fix exit with status 2 and one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"bpm-edit {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`bpm-edit ... | head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
