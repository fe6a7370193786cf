"""Fit a model's class balance and temperature on Valid (python training/calibrate.py --help).

Thin entry point: the code is lowres_fer_training/calibrate.py."""

from lowres_fer_training.calibrate import main

if __name__ == "__main__":
    main()
