"""Export a checkpoint to ONNX with the parity check (python training/export.py --help).

Thin entry point: the code is lowres_fer_training/export.py."""

from lowres_fer_training.export import main

if __name__ == "__main__":
    main()
