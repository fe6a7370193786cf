"""Accuracy of precision variants on this CPU (python training/precision_check.py --help).
Imports numpy and ONNX Runtime only for `evaluate` (emulated CPUs: scripts/cpu_kinds_check.sh).

Thin entry point: the code is lowres_fer_training/precision.py."""

from lowres_fer_training.precision import main

if __name__ == "__main__":
    main()
