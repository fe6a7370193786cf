"""The model card's tables from ferplus_eval --json (python training/render_tables.py FILE).

Thin entry point: the code is lowres_fer_training/tables/eval_json.py."""

import sys

from lowres_fer_training.tables.eval_json import main

if __name__ == "__main__":
    main(sys.argv[1])
