"""The training side of lowres_fer: FER+ data, the EFC models, training, export,
calibration, quantisation and the model card's tables. The command-line entry points
are the thin scripts in training/ (train.py, export.py, ...), each calling one
module's main().

Modules, each importing only modules above it in this list (checked by
tests/training/test_package.py):

    defaults      paths, names, constants (imports nothing of the package)
    data          FER+ loading, the low-resolution protocol, the degraded-face cache
    degrade       camera degradations (training and the robustness table)
    routing       resolution bins of the experts and the RRN
    models        efc (seed 000), seeds (crop voting, SR pyramid, wide teacher), rrn;
                  models.build(arch)
    augment       flips, shifts, rotations, erasing
    objectives    label rules (soft, hard, PDLS) and the distillation term
    evaluation    Valid accuracy of a model
    checkpoint    what a run directory holds: last.pt while it runs, best.pt once done
    train         the EFC training loop (train.py)
    train_rrn     the resolution recognition network (train_rrn.py)
    export        ONNX export with the parity check, the manifest (export.py, seeds.py)
    calibrate     class balance and temperature on Valid (calibrate.py)
    quantize      INT8 / FP16 variants (quantize.py)
    precision     a variant's accuracy on this CPU (precision_check.py; numpy and
                  ONNX Runtime only, for emulated CPUs)
    test_vector   tests/data/degrade_vector.json (make_test_vector.py)
    tables        the model card's tables (render_*.py, compute_spent.py)

Importing the package imports nothing else: precision.py's `evaluate` runs where only
numpy and ONNX Runtime are installed.
"""
