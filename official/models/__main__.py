"""Look at the registered models from the command line.

python -m official.models list
python -m official.models summary resnetrs50 [--num_classes 10] [--image_size 160]
python -m official.models table [--write docs/models.md]   # the parameter table, computed
"""

from __future__ import annotations

import argparse
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from official import models  # noqa: E402

TABLE_FILE = "docs/models.md"
TABLE_START = "<!-- model-table:start -->"
TABLE_END = "<!-- model-table:end -->"


def model_table() -> str:
    """A Markdown table of every registered model and its parameter count at 1000 classes."""
    rows = ["| model | family | parameters |", "|---|---|---:|"]
    for name in models.list_models():
        params = models.parameter_count(name)
        rows.append(f"| {name} | {models.entry(name).family} | {params:,} |")
    return "\n".join(rows)


def write_table(path: str, table: str) -> None:
    """Replaces the block between TABLE_START and TABLE_END in `path` (docs/models.md)."""
    text = open(path, encoding="utf-8").read()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {TABLE_START} ... {TABLE_END} block to replace.")
    block = f"{TABLE_START}\n{table}\n{TABLE_END}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(pattern.sub(lambda _: block, text))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m official.models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the registered names")
    summary = sub.add_parser("summary", help="build one model and print its summary")
    summary.add_argument("name")
    summary.add_argument("--num_classes", type=int, default=1000)
    summary.add_argument("--image_size", type=int, default=224)
    table = sub.add_parser("table", help=f"print (or write into {TABLE_FILE}) the parameter table")
    table.add_argument(
        "--write", metavar="FILE", help=f"replace the table block in this file ({TABLE_FILE})"
    )
    args = parser.parse_args()

    if args.command == "list":
        print("\n".join(models.list_models()))
    elif args.command == "summary":
        try:
            model = models.get(
                args.name,
                num_classes=args.num_classes,
                input_shape=(args.image_size, args.image_size, 3),
            )
        except ValueError as e:
            raise SystemExit(f"error: {e}") from None
        model.summary(line_length=110)
        print(f"{args.name}: {models.count_parameters(model):,} parameters")
    else:
        text = model_table()
        if args.write:
            write_table(args.write, text)
        else:
            print(text)


if __name__ == "__main__":
    main()
