"""INT8 and FP16 variants of an exported model (python training/quantize.py --help).

Thin entry point: the code is lowres_fer_training/quantize.py."""

from lowres_fer_training.quantize import main

if __name__ == "__main__":
    main()
