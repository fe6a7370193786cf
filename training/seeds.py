"""ONNX graphs of every architecture with random weights, for classify_bench's cost per
face before the long runs exist: python training/seeds.py DIR writes DIR/<arch>_bench.onnx
and their manifest entries.

Thin entry point: the seed options themselves are lowres_fer_training/models/seeds.py,
this command lowres_fer_training/export.py's export_untrained.
"""

import sys

from lowres_fer_training.export import export_untrained

if __name__ == "__main__":
    export_untrained(sys.argv[1])
